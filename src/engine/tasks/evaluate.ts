/**
 * The quality gate: judges the measured SLIs against the service's SLO (Keptn's format and
 * algorithm) and records the result as the artifact's performance signature for this stage.
 * A failed gate fails the run, with a reason that names each failed SLI and how far it moved
 * from its baseline.
 *
 * What relative criteria compare with, and how they are decided, is the pipeline's layer over
 * Keptn's scoring: the live release measured in the same window (concurrent baseline, decided on
 * both sides' samples) when the test had one; otherwise the earlier evaluations Keptn's
 * `comparison:` picks, where a difference inside their run-to-run spread is not a regression.
 */
import { createHash } from "node:crypto";
import { decideWithinNoise, type PairedJudgement } from "../../gate/paired-comparison.js";
import { tailCost } from "../../gate/security-cost.js";
import {
  evaluateSlo,
  type Evaluation,
  type ObjectiveResult,
  type PreviousEvaluation,
  type RelativeJudge,
} from "../../gate/slo-evaluation.js";
import type { SloSpec } from "../../spec/schema.js";
import { newEvent, type EventData, type NewEvent } from "../../store/events.js";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import { buildSloEvaluationPredicate } from "../../evidence/attestation/slo-evaluation.js";
import { attestationEvent } from "../attestations.js";
import type { TaskContext, TaskHandler } from "../task.js";
import { gatherSlis } from "../sli-sources.js";
import { lastTestMeasurement } from "../run-progress.js";
import { explainRuntimeLimits, withRuntimeLimitsObjective } from "../runtime-limits.js";

export const evaluateTask: TaskHandler = {
  name: "evaluate",
  order: 60,
  perTarget: true,
  timeoutMs: 5 * 60_000,
  appliesTo: (run, stage) => run.kind === "ship" && stage.gate,
  async run(context) {
    const { run, spec } = context;
    const measured = lastTestMeasurement(context.history);
    const slo = withRuntimeLimitsObjective(
      typeof spec.slo === "string" ? undefined : spec.slo,
      measured?.runtimeLimits,
    );
    const { values, reasons } = await gatherSlis(context, slo, measured);
    const earlier = (await context.store.evaluations(run.service, run.stage)).filter(
      (e) => e.runId !== run.id,
    );
    const history: PreviousEvaluation[] = earlier.map((e) => ({ result: e.result, values: e.values }));
    const concurrent = measured?.baseline;
    const judged =
      concurrent === undefined
        ? evaluateSlo(slo, values, history, judgeWithinNoise(history))
        : evaluateSlo(
            slo,
            values,
            [
              {
                result: "pass",
                values: concurrentBaselineValues(slo, values, history, concurrent.slis, measured),
              },
            ],
            judgeOnSamples(concurrent.paired, values, measured),
          );
    const evaluation = explainRuntimeLimits(judged, measured?.runtimeLimits);
    const baselineRuns =
      concurrent === undefined
        ? evaluation.comparison.comparedIndexes.flatMap((index) => earlier[index]?.runId ?? [])
        : [concurrent.runId];
    const events: NewEvent[] = [
      newEvent("run.result", `runs/${run.id}`, { result: evaluation.result }, run.id),
      newEvent(
        "evaluation.recorded",
        `services/${run.service}/stages/${run.stage}/evaluations/${run.id}`,
        {
          service: run.service,
          stage: run.stage,
          digest: run.digest,
          version: run.version,
          result: evaluation.result,
          score: evaluation.score,
          values,
          noValueReasons: reasons,
          evaluation,
          sloDigest: slo === undefined ? null : sloDigest(slo),
          baseline: baselineRuns,
          baselineKind: concurrent === undefined ? "history" : "concurrent",
          ...(concurrent === undefined ? {} : { paired: concurrent.paired }),
          window: measured?.window ?? null,
          latencySamplesMs: measured?.latencySamplesMs ?? [],
        },
        run.id,
      ),
    ];
    events.push(attestEvaluation(context, evaluation, values, slo, baselineRuns, measured));
    if (evaluation.result === "fail") {
      return {
        kind: "failed",
        reason: failureReason(evaluation, reasons) + securityBreakdown(evaluation, measured),
        events,
      };
    }
    return { kind: "succeeded", output: { result: evaluation.result, score: evaluation.score }, events };
  },
};

/** The performance signature, signed as an slo-evaluation attestation about the artifact. */
function attestEvaluation(
  context: TaskContext,
  evaluation: Evaluation,
  values: Record<string, number | null>,
  slo: SloSpec | undefined,
  baselineRuns: string[],
  measured: EventData["test.measured"] | undefined,
): NewEvent {
  const { run } = context;
  const predicate = buildSloEvaluationPredicate({
    stage: run.stage,
    result: evaluation.result,
    score: evaluation.score,
    objectives: evaluation.objectives.map((objective) => ({
      sli: objective.sli,
      status: objective.status,
      value: values[objective.sli] ?? null,
      score: objective.score,
      weight: objective.weight,
      keySli: objective.keySli,
      passCriteria: objective.passTargets.map((target) => target.criteria),
      warningCriteria: objective.warningTargets.map((target) => target.criteria),
    })),
    sloDigest: slo === undefined ? sloDigest({}) : sloDigest(slo),
    baseline:
      baselineRuns.length === 0
        ? null
        : { evaluationIds: baselineRuns, aggregateFunction: evaluation.comparison.aggregateFunction },
    window: measured?.window ?? { start: new Date(), end: new Date() },
  });
  return attestationEvent(context, PREDICATE_TYPES["slo-evaluation"], predicate);
}

/** Only a value the built-in load measured is one the concurrent baseline and its samples speak for. */
function measuredByLoad(
  sli: string,
  values: Record<string, number | null>,
  measured: EventData["test.measured"] | undefined,
): boolean {
  const own = measured?.slis[sli];
  return own !== undefined && values[sli] === own;
}

/**
 * The concurrent baseline's value for every SLI the load measured on both sides; for any other SLI
 * (a Prometheus query, a command), the value Keptn's `comparison:` takes from earlier results.
 */
function concurrentBaselineValues(
  slo: SloSpec | undefined,
  values: Record<string, number | null>,
  history: PreviousEvaluation[],
  concurrent: Record<string, number>,
  measured: EventData["test.measured"] | undefined,
): Record<string, number | null> {
  const baseline: Record<string, number | null> = {};
  for (const objective of evaluateSlo(slo, values, history).objectives) {
    if (objective.value.comparedValue !== undefined) baseline[objective.sli] = objective.value.comparedValue;
  }
  for (const [sli, value] of Object.entries(concurrent)) {
    if (measuredByLoad(sli, values, measured)) baseline[sli] = value;
  }
  return baseline;
}

function judgeOnSamples(
  paired: PairedJudgement[],
  values: Record<string, number | null>,
  measured: EventData["test.measured"] | undefined,
): RelativeJudge {
  return ({ sli, criteria }) => {
    if (!measuredByLoad(sli, values, measured)) return undefined;
    const judgement = paired.find((candidate) => candidate.sli === sli && candidate.criteria === criteria);
    return judgement === undefined ? undefined : { decision: judgement.decision, reason: judgement.reason };
  };
}

/** How many earlier results, newest first, tell the run-to-run spread of an SLI */
const NOISE_HISTORY = 5;

function judgeWithinNoise(history: PreviousEvaluation[]): RelativeJudge {
  return ({ sli, criterion, measured, target, baseline }) => {
    const earlier = history
      .map((previous) => previous.values[sli])
      .filter((value): value is number => typeof value === "number" && Number.isFinite(value))
      .slice(0, NOISE_HISTORY);
    const decided = decideWithinNoise({ criterion, measured, target, baseline, earlier });
    return { decision: decided.decision, reason: decided.reason };
  };
}

/** Where the latency went, when a budget on what mutual TLS costs is what failed */
function securityBreakdown(evaluation: Evaluation, measured: EventData["test.measured"] | undefined): string {
  const security = measured?.security;
  const failedOnSecurity = evaluation.objectives.some(
    (objective) => objective.status === "fail" && objective.sli.startsWith("security_"),
  );
  if (security === undefined || !failedOnSecurity) return "";
  const endToEnd = measured?.slis.latency_p99;
  const added = tailCost(security);
  const { breakdown } = security;
  const rest =
    breakdown !== null
      ? `, proxy ${round(breakdown.proxyAdded.p99.estimate)} ms, app ${round(breakdown.app.p99)} ms`
      : endToEnd === undefined
        ? ""
        : `, proxy and app ${round(Math.max(0, endToEnd - added))} ms`;
  return (
    `; end-to-end p99 ${endToEnd === undefined ? "unknown" : `${round(endToEnd)} ms`}: security (TLS) ${round(added)} ms` +
    ` [${round(security.addedP99.low)}, ${round(security.addedP99.high)}]${rest}` +
    `; p50 added by TLS ${round(security.addedP50.estimate)} ms`
  );
}

function sloDigest(slo: SloSpec): string {
  return `sha256:${createHash("sha256").update(JSON.stringify(slo)).digest("hex")}`;
}

export function failureReason(evaluation: Evaluation, noValueReasons: Record<string, string> = {}): string {
  const failed = evaluation.objectives.filter((objective) => objective.status === "fail");
  const details = failed.map((objective) => describeObjective(objective, noValueReasons[objective.sli]));
  const head = `quality gate failed with score ${round(evaluation.score)}`;
  return details.length === 0 ? `${head}: ${evaluation.message}` : `${head}: ${details.join("; ")}`;
}

function describeObjective(objective: ObjectiveResult, noValueReason: string | undefined): string {
  const name = objective.displayName || objective.sli;
  if (!objective.value.success) {
    return `${name}${objective.keySli ? " (key SLI)" : ""} has no value${noValueReason ? `: ${noValueReason}` : ""}`;
  }
  const value = objective.value.value;
  const violated = objective.passTargets.filter((target) => target.violated).map((target) => target.criteria);
  const baseline = objective.value.comparedValue;
  const change =
    baseline === undefined ? "" : `, baseline ${round(baseline)} (${formatChange(value, baseline)})`;
  const key = objective.keySli ? " key SLI" : "";
  const evidence = objective.passTargets
    .filter((target) => target.violated && target.judged !== undefined)
    .map((target) => target.judged?.reason ?? "");
  const why = evidence.length === 0 ? "" : ` (${evidence.join("; ")})`;
  return `${name}${key} = ${round(value)} violates ${violated.join(" and ") || "its pass criteria"}${change}${why}`;
}

function formatChange(value: number, baseline: number): string {
  if (baseline === 0) return `${value >= 0 ? "+" : ""}${round(value - baseline)}`;
  const percent = ((value - baseline) / Math.abs(baseline)) * 100;
  return `${percent >= 0 ? "+" : ""}${round(percent)}%`;
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}
