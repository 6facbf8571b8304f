/**
 * Whether a language runtime took the CPU and memory limits Waybill set: the limits and the
 * environment the instance was launched with say what it should take, an observation (probe.ts)
 * says what it did take, and every difference becomes a sentence a person can act on.
 *
 * Pure: no processes, no files.
 */
import { observedVariables, parseJvmLimitOptions, parseNodeHeapFlags } from "./runtime-options.js";
import {
  processorCount,
  runtimeHints,
  type ResourceLimits,
  type RuntimeName,
} from "../../kube/runtime-hints.js";

const mebibyte = 2 ** 20;

export interface JvmObservation {
  runtime: "jvm";
  /** observedVariables.jvm as the process's own environment has them, their sizing options only */
  environment: Record<string, string>;
  /** The JVM's ActiveProcessorCount flag: -1 unless set, meaning "derive it from the container" */
  activeProcessorCountFlag: number;
  /** The processors the JVM took when it started: what Runtime.availableProcessors() answers */
  availableProcessors: number;
  /** The JVM's MaxHeapSize flag */
  maxHeapBytes: number;
}

export interface NodeObservation {
  runtime: "node";
  environment: Record<string, string>;
  /** v8.getHeapStatistics().heap_size_limit under the process's heap flags and cgroup */
  heapSizeLimitBytes: number;
  /** os.availableParallelism(): CPU affinity only, libuv does not read CPU quotas */
  availableParallelism: number;
}

export interface PythonObservation {
  runtime: "python";
  environment: Record<string, string>;
  /** Null for an app that serves from a single process, without gunicorn or uvicorn */
  webServer: { name: "gunicorn" | "uvicorn"; workers: number } | null;
}

/** Go and .NET read their limits from the environment once at start, so that is all there is to see. */
export interface EnvironmentObservation {
  runtime: "go" | "dotnet";
  environment: Record<string, string>;
}

export type RuntimeObservation =
  JvmObservation | NodeObservation | PythonObservation | EnvironmentObservation;

export interface LimitsCheckInput {
  /** The limits of the instance's cgroup */
  limits: ResourceLimits;
  /** The environment the instance was launched with: the user's variables and the hints */
  launchEnv: Record<string, string>;
  observation: RuntimeObservation;
}

export interface LimitsReport {
  runtime: RuntimeName;
  expected: Record<string, string>;
  seen: Record<string, string>;
  /** Empty when the runtime took its limits */
  mismatches: string[];
}

export function compareLimits({ limits, launchEnv, observation }: LimitsCheckInput): LimitsReport {
  const report: LimitsReport = { runtime: observation.runtime, expected: {}, seen: {}, mismatches: [] };
  switch (observation.runtime) {
    case "jvm":
      compareJvm(report, limits, launchEnv, observation);
      break;
    case "node":
      compareNode(report, limits, launchEnv, observation);
      break;
    case "python":
      comparePython(report, launchEnv, observation);
      break;
    case "go":
    case "dotnet":
      compareVariables(report, observedVariables[observation.runtime], limits, launchEnv, observation);
      break;
  }
  return report;
}

/**
 * A JVM's heap is a multiple of its GC's alignment (up to a G1 region), so it sits a little off
 * the size that was asked for.
 */
const jvmHeapTolerance = 0.05;

function compareJvm(
  report: LimitsReport,
  limits: ResourceLimits,
  launchEnv: Record<string, string>,
  observation: JvmObservation,
): void {
  const options = parseJvmLimitOptions(launchEnv);
  const processors = processorCount(limits.cpuMillicores);
  report.expected.processors = String(processors);
  report.seen.processors = String(observation.availableProcessors);
  report.seen.ActiveProcessorCount = String(observation.activeProcessorCountFlag);
  Object.assign(report.seen, observation.environment);
  if (observation.availableProcessors !== processors) {
    const asked =
      options.activeProcessorCount === undefined
        ? "no ActiveProcessorCount was set"
        : `ActiveProcessorCount=${options.activeProcessorCount} was set`;
    report.mismatches.push(
      `the JVM sees ${plural(observation.availableProcessors, "processor")}; its CPU limit is ${processors} (${asked})`,
    );
  }

  // An explicit maximum heap overrides MaxRAMPercentage in the JVM, so it does here too.
  const implied =
    options.maxHeap !== undefined
      ? { bytes: options.maxHeap.bytes, because: options.maxHeap.written }
      : options.maxRamPercentage !== undefined
        ? {
            bytes: (limits.memoryBytes * options.maxRamPercentage) / 100,
            because: `MaxRAMPercentage=${options.maxRamPercentage} of the ${mib(limits.memoryBytes)} memory limit`,
          }
        : null;
  report.expected.maxHeap =
    implied === null
      ? `at most ${mib(limits.memoryBytes)}`
      : `about ${mib(implied.bytes)}, at most ${mib(limits.memoryBytes)}`;
  report.seen.maxHeap = mib(observation.maxHeapBytes);
  if (observation.maxHeapBytes > limits.memoryBytes) {
    report.mismatches.push(
      `the JVM's max heap is ${mib(observation.maxHeapBytes)}, above its memory limit of ${mib(limits.memoryBytes)}`,
    );
  }
  if (implied !== null && !within(observation.maxHeapBytes, implied.bytes, jvmHeapTolerance)) {
    report.mismatches.push(
      `the JVM's max heap is ${mib(observation.maxHeapBytes)}; ${implied.because} implies about ${mib(implied.bytes)}`,
    );
  }
}

/**
 * heap_size_limit is V8's old space plus its young generation: three semi-spaces, each of
 * --max-semi-space-size when given, else sized by V8 from the memory it sees, 1 to 16 MiB on
 * 64-bit (Node 20: a 3 MiB young generation under a 512 MiB cgroup limit, 12 MiB under 1 GiB,
 * 48 MiB from 4 GiB). The old space may then be 10% off --max-old-space-size either way.
 */
const v8SemiSpaceMiB = { smallest: 1, largest: 16 };
const v8SemiSpacesInYoungGeneration = 3;
const nodeOldSpaceTolerance = 0.1;

function compareNode(
  report: LimitsReport,
  limits: ResourceLimits,
  launchEnv: Record<string, string>,
  observation: NodeObservation,
): void {
  const { maxOldSpaceMiB, maxSemiSpaceMiB } = parseNodeHeapFlags(launchEnv.NODE_OPTIONS ?? "");
  const heapLimit = observation.heapSizeLimitBytes;
  const memoryLimit = mib(limits.memoryBytes);
  const implied =
    maxOldSpaceMiB === null
      ? null
      : nodeHeapLimitRange(
          maxOldSpaceMiB,
          maxSemiSpaceMiB === null ? v8SemiSpaceMiB : { smallest: maxSemiSpaceMiB, largest: maxSemiSpaceMiB },
        );
  report.expected.heapSizeLimit =
    implied === null ? `at most ${memoryLimit}` : `${implied.description}, at most ${memoryLimit}`;
  report.seen.heapSizeLimit = mib(heapLimit);
  report.seen.availableParallelism = String(observation.availableParallelism);
  if (observation.environment.NODE_OPTIONS !== undefined) {
    report.seen.NODE_OPTIONS = observation.environment.NODE_OPTIONS;
  }
  if (heapLimit > limits.memoryBytes) {
    report.mismatches.push(`V8's heap limit is ${mib(heapLimit)}, above the memory limit of ${memoryLimit}`);
  }
  if (implied !== null && (heapLimit < implied.lowestBytes || heapLimit > implied.highestBytes)) {
    report.mismatches.push(
      `V8's heap limit is ${mib(heapLimit)}; --max-old-space-size=${maxOldSpaceMiB} implies ${implied.description}`,
    );
  }
  compareVariables(report, ["UV_THREADPOOL_SIZE"], limits, launchEnv, observation);
}

function comparePython(
  report: LimitsReport,
  launchEnv: Record<string, string>,
  observation: PythonObservation,
): void {
  const { webServer } = observation;
  const concurrency = launchEnv.WEB_CONCURRENCY;
  if (concurrency !== undefined) report.expected.workers = concurrency;
  if (observation.environment.WEB_CONCURRENCY !== undefined) {
    report.seen.WEB_CONCURRENCY = observation.environment.WEB_CONCURRENCY;
  }
  report.seen.workers =
    webServer === null
      ? "a single process (no gunicorn or uvicorn)"
      : `${webServer.workers} (${webServer.name})`;
  if (webServer === null || concurrency === undefined) return;
  if (webServer.workers !== Number(concurrency)) {
    report.mismatches.push(
      `${webServer.name} runs ${plural(webServer.workers, "worker")}; it was launched with WEB_CONCURRENCY=${concurrency}`,
    );
  }
}

/**
 * Each variable must be in the process's own environment as the instance was launched with
 * it: the hint, or the user's own value, which wins over the hint.
 */
function compareVariables(
  report: LimitsReport,
  names: readonly string[],
  limits: ResourceLimits,
  launchEnv: Record<string, string>,
  observation: RuntimeObservation,
): void {
  const hints = runtimeHints(observation.runtime, limits, {});
  for (const name of names) {
    const launched = launchEnv[name];
    const wanted = launched ?? hints[name];
    if (wanted === undefined) continue;
    const seen = observation.environment[name];
    report.expected[name] = wanted;
    report.seen[name] = seen ?? "not set";
    if (seen === wanted) continue;
    const source =
      launched === undefined ? `the hints say ${name}=${wanted}` : `it was launched with ${name}=${wanted}`;
    report.mismatches.push(
      seen === undefined
        ? `${name} is not set in the process's environment; ${source}`
        : `${name} is ${seen} in the process's environment; ${source}`,
    );
  }
}

function nodeHeapLimitRange(
  maxOldSpaceMiB: number,
  semiSpaceMiB: { smallest: number; largest: number },
): { lowestBytes: number; highestBytes: number; description: string } {
  const smallestYoungMiB = semiSpaceMiB.smallest * v8SemiSpacesInYoungGeneration;
  const largestYoungMiB = semiSpaceMiB.largest * v8SemiSpacesInYoungGeneration;
  const young =
    smallestYoungMiB === largestYoungMiB
      ? `${smallestYoungMiB} MiB`
      : `${smallestYoungMiB} to ${largestYoungMiB} MiB`;
  return {
    lowestBytes: (maxOldSpaceMiB * (1 - nodeOldSpaceTolerance) + smallestYoungMiB) * mebibyte,
    highestBytes: (maxOldSpaceMiB * (1 + nodeOldSpaceTolerance) + largestYoungMiB) * mebibyte,
    description: `${maxOldSpaceMiB} MiB of old space and a young generation of ${young}`,
  };
}

function within(value: number, target: number, tolerance: number): boolean {
  return Math.abs(value - target) <= target * tolerance;
}

function mib(bytes: number): string {
  return `${Math.round((bytes / mebibyte) * 10) / 10} MiB`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
