/**
 * Puts the service's `test.load` (or its external load tool) on the new version through the
 * stage's own entry point, and records what was measured: the built-in SLIs from the load,
 * and CPU and memory of the new version's processes over the same window.
 *
 * With a live release on the stage (and `baseline: concurrent`, the default), the same load goes
 * to both versions in the same window, interleaved request by request in a random order: the
 * live release is the concurrent baseline. While a relative latency criterion is inconclusive
 * on both sides' samples, further windows run, up to `test.load.maxDuration`.
 */
import {
  describeProgress,
  loadOptionsFromSpec,
  loadResultToSlis,
  mergeSideResults,
  runExternalLoad,
  runLoad,
  type SideResult,
} from "../../loadgen/index.js";

import { judgePaired, pairedCriteriaOf, type PairedJudgement } from "../../gate/paired-comparison.js";
import { commandArgv, parseDuration } from "../../spec/units.js";
import { createHash } from "node:crypto";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import { buildTestResultPredicate } from "../../evidence/attestation/test-result.js";
import { newEvent, type ConcurrentBaseline, type EventData, type NewEvent } from "../../store/events.js";
import { attestationEvent } from "../attestations.js";
import type { Target, TargetMeasurement } from "../../targets/target.js";
import type { TaskContext, TaskHandler } from "../task.js";

const MAX_STORED_SAMPLES = 2_000;

export const testTask: TaskHandler = {
  name: "test",
  order: 50,
  perTarget: true,
  timeoutMs: 30 * 60_000,
  appliesTo: (run, stage) => run.kind === "ship" && stage.test,
  async run(context) {
    const { spec } = context;
    if (spec.test.load === undefined && spec.test.external === undefined) {
      return { kind: "succeeded", output: { skipped: "waybill.yaml has no test.load or test.external" } };
    }
    const events: NewEvent[] = [];
    for (const target of context.targets) {
      const measured = await measure(context, target);
      // Fail closed, and never as the service's fault: no SLI from a late generator is recorded.
      if ("inconclusive" in measured) return { kind: "failed", reason: measured.inconclusive };
      events.push(measured.event);
    }
    events.push(attestTestResult(context, events));
    return { kind: "succeeded", events };
  },
};

async function measure(
  context: TaskContext,
  target: Target,
): Promise<{ event: NewEvent } | { inconclusive: string }> {
  const { run } = context;
  const targetContext = { ...context, previous: context.previous.get(target.name) };
  const endpoint = target.testEndpoint(targetContext);
  const baselineEndpoint = concurrentBaselineOf(context, target, targetContext, endpoint.url);
  const measurement = await target.startMeasurement(targetContext, baselineEndpoint !== undefined);
  const start = new Date();
  let driven: Driven;
  try {
    driven =
      baselineEndpoint === undefined
        ? await driveLoad(context, endpoint)
        : await drivePaired(context, endpoint, baselineEndpoint.headers);
  } catch (error) {
    await measurement.stop();
    throw error;
  }
  const seen = await measurement.stop();
  if (driven.inconclusive !== null) return { inconclusive: `${target.name}: ${driven.inconclusive}` };
  const { slis, tool } = driven;
  const end = new Date();
  addProcessSlis(slis, seen.process);
  let baseline: ConcurrentBaseline | undefined;
  if (driven.paired !== undefined && context.previous.get(target.name) !== undefined) {
    const live = context.previous.get(target.name);
    addProcessSlis(driven.paired.baselineSlis, seen.baselineProcess);
    baseline = {
      kind: "concurrent",
      runId: live?.runId ?? "",
      version: live?.version ?? "",
      slis: driven.paired.baselineSlis,
      latencySamplesMs: downsample(driven.paired.baselineSamples, MAX_STORED_SAMPLES),
      paired: driven.paired.judgements,
    };
  }
  const event = newEvent(
    "test.measured",
    `runs/${run.id}`,
    {
      service: run.service,
      stage: run.stage,
      digest: run.digest,
      version: run.version,
      target: target.name,
      window: { start: start.toISOString(), end: end.toISOString() },
      slis,
      latencySamplesMs: downsample(
        driven.paired?.candidateSamples ?? seen.latencySamplesMs,
        MAX_STORED_SAMPLES,
      ),
      tool,
      ...(baseline === undefined ? {} : { baseline, windows: driven.paired?.windows ?? 1 }),
    },
    run.id,
  );
  return { event };
}

function addProcessSlis(slis: Record<string, number>, usage: TargetMeasurement["process"]): void {
  if (usage === null) return;
  slis.cpu_seconds = usage.cpuSeconds;
  slis.memory_max_mib = usage.memoryMaxMib;
  if (usage.cpuThrottledPct !== null) slis.cpu_throttled_pct = usage.cpuThrottledPct;
}

/** The live release's pin, when this stage races the new version against it. */
function concurrentBaselineOf(
  context: TaskContext,
  target: Target,
  targetContext: Parameters<Target["testEndpoint"]>[0],
  candidateUrl: string,
): { headers: Record<string, string> } | undefined {
  const { spec, stage } = context;
  if (stage.baseline !== "concurrent" || spec.test.load === undefined || spec.test.external !== undefined) {
    return undefined;
  }
  const endpoint = target.baselineEndpoint(targetContext);
  // Interleaving goes through one entry point; a baseline elsewhere would not share the path.
  return endpoint === undefined || endpoint.url !== candidateUrl ? undefined : { headers: endpoint.headers };
}

interface Driven {
  slis: Record<string, number>;
  tool: string;
  /** Why the built-in generator's figures say nothing about the service; null when they do */
  inconclusive: string | null;
  paired?: {
    baselineSlis: Record<string, number>;
    baselineSamples: number[];
    candidateSamples: number[];
    judgements: PairedJudgement[];
    windows: number;
  };
}

/**
 * Both versions under the same load, interleaved request by request, window after window while a
 * relative latency criterion is inconclusive and `maxDuration` allows another window.
 */
async function drivePaired(
  context: TaskContext,
  candidate: { url: string; headers: Record<string, string> },
  baselineHeaders: Record<string, string>,
): Promise<Driven> {
  const { spec } = context;
  const load = spec.test.load;
  if (load === undefined) throw new Error("no test.load to run");
  const durationMs = parseDuration(load.duration);
  const maxDurationMs = load.maxDuration === undefined ? 3 * durationMs : parseDuration(load.maxDuration);
  const criteria = pairedCriteriaOf(typeof spec.slo === "string" ? [] : (spec.slo?.objectives ?? []));
  const sides = { baseline: [] as SideResult[], candidate: [] as SideResult[] };
  let judgements: PairedJudgement[] = [];
  for (let window = 0; ; window++) {
    const options = loadOptionsFromSpec(load, candidate.url);
    if (window > 0) options.warmupMs = 0;
    // Another mix draw each window, so the windows are not one sequence repeated.
    options.seed = window + 1;
    options.sides = [
      { name: "baseline", headers: baselineHeaders },
      { name: "candidate", headers: candidate.headers },
    ];
    const windows = Math.max(1, Math.floor(maxDurationMs / durationMs));
    const result = await runLoad(options, (progress) =>
      context.progress(
        `${describeProgress(progress, options)}, both versions side by side${windows > 1 ? ` (window ${window + 1} of at most ${windows})` : ""}`,
      ),
    );
    if (result.generator.inconclusive !== null) {
      return { slis: {}, tool: "builtin", inconclusive: result.generator.inconclusive };
    }
    const baselineSide = result.sides?.baseline;
    const candidateSide = result.sides?.candidate;
    if (baselineSide === undefined || candidateSide === undefined)
      throw new Error("the paired load run lost a side");
    sides.baseline.push(baselineSide);
    sides.candidate.push(candidateSide);
    const baseline = mergeSideResults(sides.baseline);
    const tested = mergeSideResults(sides.candidate);
    judgements = criteria.map((paired) =>
      judgePaired({ ...paired, baseline: baseline.latencySamplesMs, candidate: tested.latencySamplesMs }),
    );
    const undecided = judgements.some((judgement) => judgement.decision === "undecided");
    const elapsedMs = (window + 1) * durationMs;
    if (!undecided || elapsedMs + durationMs > maxDurationMs || context.signal.aborted) {
      return {
        slis: loadResultToSlis(tested),
        tool: "builtin",
        inconclusive: null,
        paired: {
          baselineSlis: loadResultToSlis(baseline),
          baselineSamples: baseline.latencySamplesMs,
          candidateSamples: tested.latencySamplesMs,
          judgements,
          windows: window + 1,
        },
      };
    }
  }
}

async function driveLoad(
  context: TaskContext,
  endpoint: { url: string; headers: Record<string, string> },
): Promise<Driven> {
  const { spec, run } = context;
  if (spec.test.external !== undefined) {
    const slis = await runExternalLoad(commandArgv(spec.test.external.command), {
      timeoutMs: parseDuration(spec.test.external.timeout),
      cwd: context.artifact.path,
      env: {
        WAYBILL_TARGET_URL: endpoint.url,
        WAYBILL_TARGET_HEADERS: JSON.stringify(endpoint.headers),
        WAYBILL_SERVICE: run.service,
        WAYBILL_STAGE: run.stage,
        WAYBILL_VERSION: run.version,
      },
    });
    return { slis, tool: "external", inconclusive: null };
  }
  if (spec.test.load === undefined) throw new Error("no test.load to run");
  const options = loadOptionsFromSpec(spec.test.load, endpoint.url);
  options.requests = options.requests?.map((request) => ({
    ...request,
    headers: { ...request.headers, ...endpoint.headers },
  }));
  const result = await runLoad(options, (progress) => context.progress(describeProgress(progress, options)));
  return { slis: loadResultToSlis(result), tool: "builtin", inconclusive: result.generator.inconclusive };
}

/**
 * The load ran to its end against every target: that is the test, and it passed. Whether the
 * service was fast enough is the gate's verdict, attested separately as slo-evaluation.
 */
function attestTestResult(context: TaskContext, measurements: NewEvent[]): NewEvent {
  const { spec } = context;
  const predicate = buildTestResultPredicate({
    configuration: [
      {
        name: "waybill.yaml#test",
        digest: {
          sha256: createHash("sha256").update(JSON.stringify(spec.test)).digest("hex"),
        },
      },
    ],
    passedTests: measurements.map((event) => `load on ${(event.data as EventData["test.measured"]).target}`),
  });
  return attestationEvent(context, PREDICATE_TYPES["test-result"], predicate);
}

/** Every k-th sample, so the kept ones still span the whole window. */
export function downsample(samples: number[], limit: number): number[] {
  if (samples.length <= limit) return samples;
  const step = samples.length / limit;
  return Array.from({ length: limit }, (_, i) => samples[Math.floor(i * step)] ?? 0);
}
