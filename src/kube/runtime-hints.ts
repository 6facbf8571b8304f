/**
 * Runtime hints: environment variables that carry a container's CPU and memory limits to
 * the language runtime, which otherwise sizes itself from the host (a JVM on a 2-CPU quota
 * sees every CPU of the node and starts as many GC and compiler threads).
 *
 * Pure: the local runtime passes the limits of the cgroup it made, the Kubernetes renderer
 * the limits from `resources`.
 */
import type { runtimeNames } from "../spec/schema.js";

export type RuntimeName = (typeof runtimeNames)[number];

export interface ResourceLimits {
  cpuMillicores: number;
  memoryBytes: number;
}

/**
 * The Downward API variable (resourceFieldRef limits.cpu, divisor 1) that holds the CPU limit
 * in whole cores. Kubernetes rounds a fractional result up, so it equals the hints' N.
 */
export const cpuLimitCoresVariable = "WAYBILL_CPU_LIMIT_CORES";

/** Heap and GC limits leave a quarter of the memory limit for stacks, buffers and native code. */
const heapShareOfLimit = 0.75;
/** Go's soft limit counts the whole Go heap and runtime, so it may sit closer to the limit. */
const goMemoryShareOfLimit = 0.9;
/** libuv's own default; file I/O, DNS and crypto share the pool, so it never goes below this. */
const minimumUvThreadpoolSize = 4;
const mebibyte = 2 ** 20;

/** N in the hints: the CPU limit in whole cores, rounded up, at least 1. */
export function processorCount(cpuMillicores: number): number {
  return Math.max(1, Math.ceil(cpuMillicores / 1000));
}

/**
 * `processors` is the text put where a hint needs N as is: the number itself, or on
 * Kubernetes a `$(…)` reference. Anything that needs arithmetic is computed from `limits`.
 */
type HintBuilder = (limits: ResourceLimits, processors: string) => Record<string, string>;

function shareOfMemoryMiB(limits: ResourceLimits, share: number): number {
  return Math.floor((limits.memoryBytes / mebibyte) * share);
}

const hintBuilders: Record<RuntimeName, HintBuilder> = {
  // MaxRAMPercentage is relative to the container memory the JVM reads from its cgroup.
  jvm: (_limits, processors) => ({
    JAVA_TOOL_OPTIONS: `-XX:ActiveProcessorCount=${processors} -XX:MaxRAMPercentage=75`,
  }),
  go: (limits, processors) => ({
    GOMAXPROCS: processors,
    GOMEMLIMIT: `${shareOfMemoryMiB(limits, goMemoryShareOfLimit)}MiB`,
  }),
  node: (limits) => ({
    NODE_OPTIONS: `--max-old-space-size=${shareOfMemoryMiB(limits, heapShareOfLimit)}`,
    UV_THREADPOOL_SIZE: String(Math.max(minimumUvThreadpoolSize, processorCount(limits.cpuMillicores))),
  }),
  // Gunicorn's and Uvicorn's own advice for the number of workers.
  python: (limits) => ({
    WEB_CONCURRENCY: String(2 * processorCount(limits.cpuMillicores) + 1),
  }),
  // .NET reads GC settings from the environment as hexadecimal.
  dotnet: (limits, processors) => ({
    DOTNET_PROCESSOR_COUNT: processors,
    DOTNET_GCHeapHardLimit: `0x${Math.floor(limits.memoryBytes * heapShareOfLimit).toString(16)}`,
  }),
};

function withoutUserSettings(
  hints: Record<string, string>,
  userEnv: Record<string, string>,
): Record<string, string> {
  return Object.fromEntries(Object.entries(hints).filter(([name]) => !Object.hasOwn(userEnv, name)));
}

/**
 * The hints for a process with these limits. A variable the user sets in `userEnv` is left
 * out, so their own tuning always wins.
 */
export function runtimeHints(
  runtime: RuntimeName | undefined,
  limits: ResourceLimits,
  userEnv: Record<string, string>,
): Record<string, string> {
  if (runtime === undefined) return {};
  const hints = hintBuilders[runtime](limits, String(processorCount(limits.cpuMillicores)));
  return withoutUserSettings(hints, userEnv);
}

/**
 * The hints for a Kubernetes container. Where a hint is N as is (GOMAXPROCS,
 * DOTNET_PROCESSOR_COUNT, -XX:ActiveProcessorCount), it refers to the Downward API variable
 * with `$(…)`, so it follows the limit if someone changes it on the cluster. `$(…)` cannot do
 * arithmetic, so percentages, 2N+1, max(4, N) and hexadecimal are computed here from the
 * limits being rendered. The container must define `cpuLimitCoresVariable` before these.
 */
export function kubeRuntimeHints(
  runtime: RuntimeName | undefined,
  limits: ResourceLimits,
  userEnv: Record<string, string>,
): Record<string, string> {
  if (runtime === undefined) return {};
  const hints = hintBuilders[runtime](limits, `$(${cpuLimitCoresVariable})`);
  return withoutUserSettings(hints, userEnv);
}
