/**
 * A stage's history of performance signatures, judged by the real gate (`evaluateSlo`) with the
 * example's SLO, as `evaluation.recorded` events the engine would append: for the tests that
 * need many builds (the heatmap's paging, the dashboard with 1,000 builds) without shipping each.
 * The values follow a deterministic walk with a few regressions, so every status occurs.
 */
import { evaluateSlo, type PreviousEvaluation } from "../gate/slo-evaluation.js";
import type { SloSpec } from "../spec/schema.js";
import { newEvent, type NewEvent } from "../store/events.js";

/** The SLO of examples/hello, as its waybill.yaml writes it */
export const exampleSlo: SloSpec = {
  comparison: {
    compare_with: "several_results",
    number_of_comparison_results: 3,
    include_result_with_score: "pass",
    aggregate_function: "avg",
  },
  objectives: [
    { sli: "latency_p95", pass: [{ criteria: ["<=500", "<=+10%"] }], warning: [{ criteria: ["<=+20%"] }] },
    { sli: "error_rate", pass: [{ criteria: ["<1"] }], key_sli: true },
  ],
  total_score: { pass: "90%", warning: "75%" },
};

export interface HistoryOptions {
  service: string;
  stage: string;
  builds: number;
  /** Run ids are `<prefix><n>`, versions `0.<n>.0`, oldest first */
  prefix?: string;
  slo?: SloSpec;
}

/** Oldest build first, as they would have been appended */
export function signatureHistory(options: HistoryOptions): NewEvent<"evaluation.recorded">[] {
  const slo = options.slo ?? exampleSlo;
  const prefix = options.prefix ?? "r-seed-";
  const previous: PreviousEvaluation[] = [];
  const events: NewEvent<"evaluation.recorded">[] = [];
  for (let n = 0; n < options.builds; n += 1) {
    const values = valuesOf(n);
    const evaluation = evaluateSlo(slo, values, previous);
    previous.unshift({ result: evaluation.result, values });
    const runId = `${prefix}${n}`;
    const digest = `sha256:${n.toString(16).padStart(64, "0")}`;
    events.push(
      newEvent(
        "evaluation.recorded",
        `services/${options.service}/stages/${options.stage}/evaluations/${runId}`,
        {
          service: options.service,
          stage: options.stage,
          digest,
          version: `0.${n}.0`,
          result: evaluation.result,
          score: evaluation.score,
          values,
          noValueReasons: {},
          evaluation,
          sloDigest: null,
          baseline: [],
          baselineKind: "history",
          window: null,
          latencySamplesMs: [],
        },
        runId,
      ),
    );
  }
  return events;
}

/** About 100 ms with a slow wobble; every 7th build regresses 15% (a warning), every 23rd 40% */
function valuesOf(n: number): Record<string, number | null> {
  const wobble = 100 + 8 * Math.sin(n / 5);
  const regression = n % 23 === 22 ? 1.4 : n % 7 === 6 ? 1.15 : 1;
  return {
    latency_p95: Math.round(wobble * regression * 10) / 10,
    error_rate: n % 31 === 30 ? 2.5 : 0,
  };
}
