/**
 * The quality gate: judges the measured SLIs against the service's SLO (Keptn's format and
 * algorithm) and against the stage's earlier evaluations, and records the result as the
 * artifact's performance signature for this stage. A failed gate fails the run, with a
 * reason that names each failed SLI and how far it moved from its baseline.
 */
import { createHash } from "node:crypto";
import { evaluateSlo, type Evaluation, type ObjectiveResult } from "../../gate/slo-evaluation.js";
import type { SloSpec } from "../../spec/schema.js";
import { newEvent, shortType, type EventData, type NewEvent } from "../../store/events.js";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import { buildSloEvaluationPredicate } from "../../evidence/attestation/slo-evaluation.js";
import { attestationEvent } from "../attestations.js";
import type { TaskContext, TaskHandler } from "../task.js";
import { gatherSlis } from "../sli-sources.js";

export const evaluateTask: TaskHandler = {
  name: "evaluate",
  order: 60,
  perTarget: true,
  timeoutMs: 5 * 60_000,
  appliesTo: (run, stage) => run.kind === "ship" && stage.gate,
  async run(context) {
    const { run, spec } = context;
    const slo = typeof spec.slo === "string" ? undefined : spec.slo;
    const measured = lastMeasurement(context);
    const { values, reasons } = await gatherSlis(context, slo, measured);
    const earlier = (await context.store.evaluations(run.service, run.stage)).filter(
      (e) => e.runId !== run.id,
    );
    const evaluation = evaluateSlo(
      slo,
      values,
      earlier.map((e) => ({ result: e.result, values: e.values })),
    );
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
          baseline: evaluation.comparison.comparedIndexes.flatMap((index) => earlier[index]?.runId ?? []),
          window: measured?.window ?? null,
          latencySamplesMs: measured?.latencySamplesMs ?? [],
        },
        run.id,
      ),
    ];
    events.push(attestEvaluation(context, evaluation, values, slo, earlier, measured));
    if (evaluation.result === "fail") {
      return { kind: "failed", reason: failureReason(evaluation, reasons), events };
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
  earlier: { runId: string }[],
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
      evaluation.comparison.comparedIndexes.length === 0
        ? null
        : {
            evaluationIds: evaluation.comparison.comparedIndexes.flatMap(
              (index) => earlier[index]?.runId ?? [],
            ),
            aggregateFunction: evaluation.comparison.aggregateFunction,
          },
    window: measured?.window ?? { start: new Date(), end: new Date() },
  });
  return attestationEvent(context, PREDICATE_TYPES["slo-evaluation"], predicate);
}

function lastMeasurement(context: TaskContext): EventData["test.measured"] | undefined {
  const measured = context.history.filter((event) => shortType(event) === "test.measured");
  return measured.at(-1)?.data as EventData["test.measured"] | undefined;
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
  return `${name}${key} = ${round(value)} violates ${violated.join(" and ") || "its pass criteria"}${change}`;
}

function formatChange(value: number, baseline: number): string {
  if (baseline === 0) return `${value >= 0 ? "+" : ""}${round(value - baseline)}`;
  const percent = ((value - baseline) / Math.abs(baseline)) * 100;
  return `${percent >= 0 ? "+" : ""}${round(percent)}%`;
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}
