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
  runExternalLoad,
  runLoad,
} from "../../loadgen/index.js";
import type { PairedJudgement } from "../../gate/paired-comparison.js";
import { drivePairedLoad } from "../paired-load.js";
import { commandArgv, parseDuration } from "../../spec/units.js";
import { createHash } from "node:crypto";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import { buildTestResultPredicate } from "../../evidence/attestation/test-result.js";
import { newEvent, type ConcurrentBaseline, type EventData, type NewEvent } from "../../store/events.js";
import { attestationEvent } from "../attestations.js";
import type { PlainPath, Target, TargetMeasurement } from "../../targets/target.js";
import { securityCost, securitySlis, type SecurityCost } from "../../gate/security-cost.js";
import type { TaskContext, TaskHandler } from "../task.js";
import { RUNTIME_LIMITS_SLI } from "../runtime-limits.js";
import type { MinimumEnvironmentPredicate } from "../../evidence/attestation/minimum-environment.js";

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
    const environment = events.flatMap((event) => attestEnvironment(context, event));
    events.push(attestTestResult(context, events), ...environment);
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
  // Both only after the window: the runtime's probe runs in the instance's cgroup, where its CPU and
  // memory would count against the measured version. Reading the loaded files meanwhile costs it nothing.
  const [runtimeLimits, dependencies] = await Promise.all([
    target.runtimeLimits(targetContext),
    target.dependencyUsage(targetContext),
  ]);
  if (runtimeLimits !== null && "mismatches" in runtimeLimits) {
    slis[RUNTIME_LIMITS_SLI] = runtimeLimits.mismatches.length;
  }
  const security = await measureSecurityCost(context, target.plainPath(targetContext), endpoint);
  if (security !== null) Object.assign(slis, security.slis);
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
      ...(runtimeLimits === null ? {} : { runtimeLimits }),
      ...(dependencies === null ? {} : { dependencies }),
      ...(security === null ? {} : { security: security.cost }),
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

async function drivePaired(
  context: TaskContext,
  candidate: { url: string; headers: Record<string, string> },
  baselineHeaders: Record<string, string>,
): Promise<Driven> {
  const { spec } = context;
  if (spec.test.load === undefined) throw new Error("no test.load to run");
  const outcome = await drivePairedLoad({
    load: spec.test.load,
    objectives: typeof spec.slo === "string" ? [] : (spec.slo?.objectives ?? []),
    url: candidate.url,
    baselineHeaders,
    candidateHeaders: candidate.headers,
    describeSides: "both versions side by side",
    progress: context.progress,
    signal: context.signal,
  });
  if (outcome.inconclusive !== null) return { slis: {}, tool: "builtin", inconclusive: outcome.inconclusive };
  const { candidateSlis, requests: _requests, ...paired } = outcome;
  return { slis: candidateSlis, tool: "builtin", inconclusive: null, paired };
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

/**
 * What mutual TLS costs this service at this load: the stage's test load once more, to the same
 * new version through the plain path and the TLS path, interleaved request by request, with a
 * third side straight to the app's port that tells the app's own latency from the proxy's.
 */
async function measureSecurityCost(
  context: TaskContext,
  plain: PlainPath | null,
  secured: { url: string; headers: Record<string, string> },
): Promise<{ cost: SecurityCost; slis: Record<string, number> } | null> {
  const load = context.spec.test.load;
  if (plain === null || load === undefined || context.spec.test.external !== undefined) return null;
  const cpuBefore = await plain.cpuSeconds();
  const options = loadOptionsFromSpec(load, secured.url);
  options.sides = [
    { name: "direct", headers: {}, target: plain.directUrl },
    { name: "plain", headers: plain.headers },
    { name: "secured", headers: secured.headers },
  ];
  const result = await runLoad(options, (progress) =>
    context.progress(`${describeProgress(progress, options)}, the new version with and without TLS`),
  );
  const cpuAfter = await plain.cpuSeconds();
  const sides = result.sides;
  if (result.generator.inconclusive !== null || sides?.plain === undefined || sides.secured === undefined) {
    return null;
  }
  const cost = securityCost(
    sides.plain.latencySamplesMs,
    sides.secured.latencySamplesMs,
    sides.direct?.latencySamplesMs ?? [],
  );
  if (cost === null) return null;
  const cpu = securityCpu(cpuBefore, cpuAfter, {
    secured: sides.secured.requests,
    proxied: sides.secured.requests + sides.plain.requests,
  });
  return { cost, slis: securitySlis(cost, cpu) };
}

/**
 * The CPU the TLS path cost: all of the terminator's, and the proxies' process in proportion to
 * the requests it carried on that path (it carried the plain side too; the direct side not).
 */
function securityCpu(
  before: { terminator: number | null; proxy: number | null },
  after: { terminator: number | null; proxy: number | null },
  requests: { secured: number; proxied: number },
): { seconds: number; securedRequests: number } | null {
  if (before.terminator === null || after.terminator === null || requests.proxied === 0) return null;
  const proxy =
    before.proxy === null || after.proxy === null
      ? 0
      : ((after.proxy - before.proxy) * requests.secured) / requests.proxied;
  return { seconds: after.terminator - before.terminator + proxy, securedRequests: requests.secured };
}

/**
 * What the test learned of the artifact's minimum environment (whether its runtime took its
 * limits, which of its packages it never loaded), signed as a minimum-environment attestation.
 */
function attestEnvironment(context: TaskContext, event: NewEvent): NewEvent[] {
  const measured = event.data as EventData["test.measured"];
  if (measured.runtimeLimits === undefined && measured.dependencies === undefined) return [];
  const predicate: MinimumEnvironmentPredicate = {
    stage: measured.stage,
    target: measured.target,
    sizing: null,
    runtimeLimits: measured.runtimeLimits ?? null,
    dependencies: measured.dependencies ?? null,
    window: measured.window,
  };
  return [attestationEvent(context, PREDICATE_TYPES["minimum-environment"], predicate)];
}

/** Every k-th sample, so the kept ones still span the whole window. */
export function downsample(samples: number[], limit: number): number[] {
  if (samples.length <= limit) return samples;
  const step = samples.length / limit;
  return Array.from({ length: limit }, (_, i) => samples[Math.floor(i * step)] ?? 0);
}
