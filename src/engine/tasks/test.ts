/**
 * Puts the service's `test.load` (or its external load tool) on the new version through the
 * stage's own entry point, and records what was measured: the built-in SLIs from the load,
 * and CPU and memory of the new version's processes over the same window.
 */
import { loadOptionsFromSpec, loadResultToSlis, runExternalLoad, runLoad } from "../../loadgen/index.js";
import { commandArgv, parseDuration } from "../../spec/units.js";
import { createHash } from "node:crypto";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import { buildTestResultPredicate } from "../../evidence/attestation/test-result.js";
import { newEvent, type EventData, type NewEvent } from "../../store/events.js";
import { attestationEvent } from "../attestations.js";
import type { Target } from "../../targets/target.js";
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
  const measurement = await target.startMeasurement(targetContext);
  const start = new Date();
  let driven: Driven;
  try {
    driven = await driveLoad(context, endpoint);
  } catch (error) {
    await measurement.stop();
    throw error;
  }
  const seen = await measurement.stop();
  if (driven.inconclusive !== null) return { inconclusive: `${target.name}: ${driven.inconclusive}` };
  const { slis, tool } = driven;
  const end = new Date();
  if (seen.process !== null) {
    slis.cpu_seconds = seen.process.cpuSeconds;
    slis.memory_max_mib = seen.process.memoryMaxMib;
    if (seen.process.cpuThrottledPct !== null) slis.cpu_throttled_pct = seen.process.cpuThrottledPct;
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
      latencySamplesMs: downsample(seen.latencySamplesMs, MAX_STORED_SAMPLES),
      tool,
    },
    run.id,
  );
  return { event };
}

interface Driven {
  slis: Record<string, number>;
  tool: string;
  /** Why the built-in generator's figures say nothing about the service; null when they do */
  inconclusive: string | null;
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
  const result = await runLoad(options);
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
