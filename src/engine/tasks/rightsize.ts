/**
 * Rightsizing by experiment (`waybill rightsize`, or a stage's `rightsize: true` after its gate
 * passed): the search of gate/rightsizing.ts run on the target's sizing lab, and its report
 * signed as the artifact's minimum-environment attestation.
 *
 * Each finished step is appended as a `rightsize.step` event, so after a crash the task runs
 * again from the steps already recorded: none is lost, none is run twice.
 */
import { createHash } from "node:crypto";
import {
  DEFAULT_RESOLUTION,
  defaultFloor,
  formatCpu,
  formatMemory,
  recommendation,
  savingAgainst,
  usageRecommendation,
  MEBIBYTE,
  type RecordedStep,
  type Recommendation,
  type Saving,
  type SearchPlan,
  type Size,
} from "../../gate/rightsizing.js";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import type {
  MinimumEnvironmentPredicate,
  SizingReport,
} from "../../evidence/attestation/minimum-environment.js";
import { resolveResources } from "../../spec/resources.js";
import { parseDuration } from "../../spec/units.js";
import { newEvent, shortType, type EventData, type NewEvent } from "../../store/events.js";
import type { Target } from "../../targets/target.js";
import { attestationEvent } from "../attestations.js";
import { runExperiment } from "../rightsizing-experiment.js";
import { lastTestMeasurement } from "../run-progress.js";
import type { TaskContext, TaskHandler } from "../task.js";

/** The SLIs each step's report keeps of both sides; all of them are in the step's event */
const KEY_SLIS = [
  "latency_p50",
  "latency_p95",
  "latency_p99",
  "error_rate",
  "cpu_throttled_pct",
  "memory_max_mib",
];

export const rightsizeTask: TaskHandler = {
  name: "rightsize",
  order: 62,
  timeoutMs: 60 * 60_000,
  appliesTo: (run, stage) => run.kind === "rightsize" || (run.kind === "ship" && stage.rightsize),
  async run(context) {
    const load = context.spec.test.load;
    if (load === undefined) {
      return {
        kind: "failed",
        reason:
          "rightsizing needs the stage's built-in test load (test.load) to compare sizes under; waybill.yaml has none",
      };
    }
    const target = context.targets[0];
    if (target === undefined) return { kind: "failed", reason: "the stage has no target" };
    const declared = resolveResources(context.spec, context.recommendation);
    const plan = searchPlan(context, declared);
    const started = firstAttemptStart(context);
    const lab = await target.sizingLab({
      ...context,
      previous: context.previous.get(target.name),
    });
    const outcome = await runExperiment({
      lab,
      plan,
      load,
      slo: typeof context.spec.slo === "string" ? undefined : context.spec.slo,
      recorded: recordedSteps(context),
      deadlineMs: started + plan.maxDurationMs,
      signal: context.signal,
      progress: context.progress,
      onStep: (step) =>
        context.emit(newEvent("rightsize.step", `runs/${context.run.id}`, step, context.run.id)),
    });
    const report = buildReport(context, target, plan, outcome.steps, outcome.stoppedEarly, started);
    const events: NewEvent[] = [
      newEvent("rightsize.recorded", `runs/${context.run.id}`, report, context.run.id),
      attestationEvent(context, PREDICATE_TYPES["minimum-environment"], report),
    ];
    return {
      kind: "succeeded",
      output: {
        recommended: report.sizing?.recommended,
        provenMinimum: report.sizing?.provenMinimum,
        steps: report.sizing?.steps.length,
      },
      events,
    };
  },
};

interface Plan extends SearchPlan {
  maxDurationMs: number;
}

function searchPlan(context: TaskContext, declared: Size): Plan {
  const bounds = queuedBounds(context);
  const settings = context.spec.rightsizing;
  return {
    declared: { cpuMillicores: declared.cpuMillicores, memoryBytes: declared.memoryBytes },
    floor: defaultFloor(declared),
    maxSteps: bounds?.maxSteps ?? settings.maxSteps,
    maxDurationMs: bounds?.maxDurationMs ?? parseDuration(settings.maxDuration),
    resolution: DEFAULT_RESOLUTION,
    margin: settings.margin / 100,
  };
}

/** The bounds `waybill rightsize --max-steps/--max-time` put on the run, if any */
function queuedBounds(context: TaskContext): EventData["run.queued"]["rightsize"] {
  const queued = context.history.find((event) => shortType(event) === "run.queued");
  return (queued?.data as EventData["run.queued"] | undefined)?.rightsize;
}

/** The time bound counts from the task's first attempt, so a resumed run does not get a fresh one. */
function firstAttemptStart(context: TaskContext): number {
  const first = context.history.find(
    (event) =>
      shortType(event) === "task.started" && (event.data as EventData["task.started"]).task === "rightsize",
  );
  return first === undefined ? Date.now() : Date.parse(first.time);
}

function recordedSteps(context: TaskContext): RecordedStep[] {
  return context.history
    .filter((event) => shortType(event) === "rightsize.step")
    .map((event) => event.data as unknown as EventData["rightsize.step"]);
}

function buildReport(
  context: TaskContext,
  target: Target,
  plan: Plan,
  steps: readonly RecordedStep[],
  stoppedEarly: string | null,
  started: number,
): MinimumEnvironmentPredicate {
  const result = recommendation(plan, steps);
  const usage = usageRecommendation({
    cpuMillicores: steps.flatMap((step) => step.reference?.usage?.perSecond.cpuMillicores ?? []),
    memoryBytes: steps.flatMap(
      (step) => step.reference?.usage?.perSecond.memoryMib.map((mib) => mib * MEBIBYTE) ?? [],
    ),
    oomKills: steps.reduce((sum, step) => sum + (step.reference?.usage?.oomKills ?? 0), 0),
  });
  const saving = savingAgainst(plan.declared, result.size);
  const measured = lastTestMeasurement(context.history);
  return {
    stage: context.run.stage,
    target: target.name,
    runtimeLimits: measured?.runtimeLimits ?? null,
    dependencies: measured?.dependencies ?? null,
    window: { start: new Date(started).toISOString(), end: new Date().toISOString() },
    sizing: sizingReport(context, plan, steps, stoppedEarly, result, usage, saving),
  };
}

function sizingReport(
  context: TaskContext,
  plan: Plan,
  steps: readonly RecordedStep[],
  stoppedEarly: string | null,
  result: Recommendation,
  usage: Size | null,
  saving: Saving,
): SizingReport {
  return {
    declared: sizeText(plan.declared),
    configuration: {
      test: sha256(context.spec.test),
      slo: sha256(context.spec.slo ?? null),
    },
    bounds: { maxSteps: plan.maxSteps, maxDurationMs: plan.maxDurationMs, stoppedEarly },
    steps: steps.map((step) => ({
      phase: step.phase,
      size: sizeText(step.size),
      passed: step.passed,
      reason: step.reason,
      durationMs: step.durationMs,
      trial: keySlis(step.trial?.slis),
      reference: keySlis(step.reference?.slis),
    })),
    provenMinimum: sizeText(result.provenMinimum),
    margin: plan.margin,
    recommended: { ...sizeText(result.size), confirmed: result.confirmed, note: result.note },
    usageBased:
      usage === null
        ? null
        : {
            ...sizeText(usage),
            method:
              "VPA's arithmetic on the reference's usage per second: CPU p90 + 15%, memory peak + 15%, raised after an OOM kill",
          },
    saving: { cpuPct: saving.cpuPct, memoryPct: saving.memoryPct },
  };
}

function sizeText(size: Size): { cpu: string; memory: string } {
  return { cpu: formatCpu(size.cpuMillicores), memory: formatMemory(size.memoryBytes) };
}

function keySlis(slis: Record<string, number> | undefined): Record<string, number> | null {
  if (slis === undefined) return null;
  return Object.fromEntries(KEY_SLIS.flatMap((sli) => (slis[sli] === undefined ? [] : [[sli, slis[sli]]])));
}

function sha256(value: unknown): string {
  return `sha256:${createHash("sha256").update(JSON.stringify(value)).digest("hex")}`;
}
