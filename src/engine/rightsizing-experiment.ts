/**
 * One rightsizing experiment on a sizing lab: a reference copy of the release at its declared
 * size, and trial copies at the sizes the search in gate/rightsizing.ts picks, each raced against
 * the reference under the stage's test load by the gate's paired method and judged by the
 * stage's SLO. Each finished step is reported through `onStep` before the next one starts, so a
 * run resumed after a crash replays what it recorded and only runs the steps still to come.
 */
import { evaluateSlo, type RelativeJudge } from "../gate/slo-evaluation.js";
import type { PairedJudgement } from "../gate/paired-comparison.js";
import {
  cpuSaturation,
  nextTrial,
  type RecordedStep,
  type SearchPlan,
  type StepSide,
  type Trial,
} from "../gate/rightsizing.js";
import type { LoadSpec, SloSpec } from "../spec/schema.js";
import { errorMessage } from "../errors.js";
import type { SizedUsage, SizingLab } from "../targets/target.js";
import { drivePairedLoad, longestPairedLoadMs } from "./paired-load.js";
import { failureReason } from "./tasks/evaluate.js";

export interface ExperimentRequest {
  lab: SizingLab;
  plan: SearchPlan;
  load: LoadSpec;
  slo: SloSpec | undefined;
  /** Steps recorded by an earlier attempt of this run, oldest first */
  recorded: readonly RecordedStep[];
  /** No step starts after this moment (ms since the epoch) */
  deadlineMs: number;
  signal: AbortSignal;
  progress(text: string): void;
  onStep(step: RecordedStep): Promise<void>;
}

export interface ExperimentOutcome {
  steps: RecordedStep[];
  /** Why the search stopped before it was complete; null when it completed */
  stoppedEarly: string | null;
}

const REFERENCE = "reference";
/**
 * A window in which the declared size itself misses the SLO, or the load generator could not
 * keep its schedule, says nothing about the trial: the machine was too busy. The step runs again,
 * this many times in all, before the experiment stops rather than record a verdict it cannot hold.
 */
const ATTEMPTS_PER_STEP = 3;

type StepOutcome = { judged: RecordedStep } | { unjudgeable: string };

export async function runExperiment(request: ExperimentRequest): Promise<ExperimentOutcome> {
  const { lab, plan } = request;
  const steps = [...request.recorded];
  let referenceStarted = false;
  try {
    for (let trial = nextTrial(plan, steps); trial !== null; trial = nextTrial(plan, steps)) {
      if (request.signal.aborted) throw new Error("the experiment was stopped");
      const stepBudgetMs = stepDurationMs(request.load);
      if (Date.now() + stepBudgetMs > request.deadlineMs) {
        return { steps, stoppedEarly: `the time bound was reached after ${steps.length} steps` };
      }
      if (!referenceStarted) {
        await lab.close();
        await lab.start(REFERENCE, plan.declared, request.signal);
        referenceStarted = true;
      }
      const outcome = await judgedStep(request, trial, steps.length + 1);
      if ("unjudgeable" in outcome) {
        return {
          steps,
          stoppedEarly: `step ${steps.length + 1} could not be judged in ${ATTEMPTS_PER_STEP} attempts: ${outcome.unjudgeable}`,
        };
      }
      steps.push(outcome.judged);
      await request.onStep(outcome.judged);
    }
    // Cut short when a search without the bound would have gone on.
    const unbounded = nextTrial({ ...plan, maxSteps: Number.POSITIVE_INFINITY }, steps);
    const stoppedEarly = unbounded === null ? null : `the step bound (${plan.maxSteps}) was reached`;
    return { steps, stoppedEarly };
  } finally {
    await lab.close();
  }
}

/** A step's load, its longest run of windows, and the copies' start-up with it */
function stepDurationMs(load: LoadSpec): number {
  return longestPairedLoadMs(load) + 5_000;
}

async function judgedStep(request: ExperimentRequest, trial: Trial, number: number): Promise<StepOutcome> {
  let outcome: StepOutcome = { unjudgeable: "not run" };
  for (let attempt = 1; attempt <= ATTEMPTS_PER_STEP; attempt++) {
    outcome = await runStep(request, trial, number);
    if ("judged" in outcome || request.signal.aborted) return outcome;
    request.progress(`step ${number}: ${outcome.unjudgeable}; running it again (attempt ${attempt + 1})`);
  }
  return outcome;
}

async function runStep(request: ExperimentRequest, trial: Trial, number: number): Promise<StepOutcome> {
  const { lab } = request;
  const name = `trial-${number}`;
  const started = Date.now();
  const failed = (reason: string, reference: StepSide | null = null, trialSide: StepSide | null = null) => ({
    judged: {
      ...trial,
      passed: false,
      reason,
      reference,
      trial: trialSide,
      durationMs: Date.now() - started,
    },
  });
  request.progress(`step ${number}: starting a copy at ${describeTrial(trial)}`);
  try {
    await lab.start(name, trial.size, request.signal);
  } catch (error) {
    await lab.stop(name);
    return failed(`did not start healthy at this size: ${errorMessage(error)}`);
  }
  try {
    await lab.pair(REFERENCE, name);
    const measurement = await lab.measure(REFERENCE, name);
    const driven = drivePairedLoad({
      load: request.load,
      objectives: request.slo?.objectives ?? [],
      url: lab.url,
      baselineHeaders: lab.referenceHeaders,
      candidateHeaders: lab.trialHeaders,
      describeSides: `step ${number}: ${describeTrial(trial)} beside the declared size`,
      progress: request.progress,
      signal: request.signal,
    });
    // The usage is read whether or not the load finished, so no sampler outlives its step.
    const [settled, usage] = await Promise.all([
      driven.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      driven.then(
        (outcome) => measurement.stop(outcome.inconclusive === null ? outcome.loadWindow : undefined),
        () => measurement.stop(),
      ),
    ]);
    if (!settled.ok) throw settled.error;
    const outcome = settled.value;
    if (outcome.inconclusive !== null) return { unjudgeable: outcome.inconclusive };
    const reference: StepSide = {
      slis: withUsage(outcome.baselineSlis, usage.reference),
      usage: usage.reference,
    };
    const trialSide: StepSide = { slis: withUsage(outcome.candidateSlis, usage.trial), usage: usage.trial };
    const killed = usage.trial.oomKills ?? 0;
    if (killed > 0)
      return failed(`OOM-killed ${killed} time${killed === 1 ? "" : "s"}`, reference, trialSide);
    if (usage.trial.restarts > 0) {
      return failed(`crashed and was restarted ${usage.trial.restarts} times`, reference, trialSide);
    }
    const saturated = cpuSaturation(trial.size.cpuMillicores, usage.trial.perSecond.cpuMillicores);
    if (saturated !== null) return failed(saturated, reference, trialSide);
    const declaredSize = judgeStep(request.slo, reference.slis, reference.slis, []);
    if (!declaredSize.passed) {
      return {
        unjudgeable: `the declared size itself missed the SLO in this window (${declaredSize.reason})`,
      };
    }
    const verdict = judgeStep(request.slo, trialSide.slis, reference.slis, outcome.judgements);
    return {
      judged: { ...trial, ...verdict, reference, trial: trialSide, durationMs: Date.now() - started },
    };
  } finally {
    await lab.stop(name);
  }
}

function withUsage(slis: Record<string, number>, usage: SizedUsage): Record<string, number> {
  const values: Record<string, number> = {
    ...slis,
    cpu_seconds: usage.cpuSeconds,
    memory_max_mib: usage.memoryMaxMib,
  };
  if (usage.cpuThrottledPct !== null) values.cpu_throttled_pct = usage.cpuThrottledPct;
  return values;
}

/**
 * The stage's SLO on the trial, with the reference as its baseline and relative criteria decided
 * on both sides' samples. Only objectives whose SLI this experiment measures are judged: a
 * Prometheus query or a command would not tell one copy from the other.
 */
export function judgeStep(
  slo: SloSpec | undefined,
  trial: Record<string, number>,
  reference: Record<string, number>,
  paired: readonly PairedJudgement[],
): { passed: boolean; reason: string } {
  const objectives = (slo?.objectives ?? []).filter((objective) => trial[objective.sli] !== undefined);
  if (objectives.length === 0) {
    return { passed: false, reason: "the SLO has no objective on an SLI the test load measures" };
  }
  const judge: RelativeJudge = ({ sli, criteria }) => {
    const judgement = paired.find((candidate) => candidate.sli === sli && candidate.criteria === criteria);
    return judgement === undefined ? undefined : { decision: judgement.decision, reason: judgement.reason };
  };
  const evaluation = evaluateSlo(
    { ...slo, objectives },
    trial,
    [{ result: "pass", values: reference }],
    judge,
  );
  if (evaluation.result === "pass")
    return { passed: true, reason: `every SLO passed (score ${evaluation.score})` };
  if (evaluation.result === "warning") {
    const warned = evaluation.objectives
      .filter((objective) => objective.status !== "pass")
      .map((objective) => objective.sli);
    return { passed: false, reason: `a warning on ${warned.join(", ")} (score ${evaluation.score})` };
  }
  return { passed: false, reason: failureReason(evaluation) };
}

function describeTrial(trial: Trial): string {
  const cpu = `${trial.size.cpuMillicores}m CPU`;
  const memory = `${Math.round(trial.size.memoryBytes / 2 ** 20)}Mi memory`;
  return trial.phase === "cpu" ? cpu : trial.phase === "memory" ? memory : `${cpu} and ${memory}`;
}
