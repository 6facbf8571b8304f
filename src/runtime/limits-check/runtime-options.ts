/**
 * The options that size a runtime, read out of the variables and command lines that carry them
 * (JAVA_TOOL_OPTIONS and its siblings, NODE_OPTIONS, node's own flags). Only these are ever
 * kept: the rest of such a variable may hold anything, `-Djavax.net.ssl.keyStorePassword=…`
 * included.
 *
 * Pure.
 */
import type { RuntimeName } from "../../kube/runtime-hints.js";

const jvmLimitTokens = [
  /^-XX:(?:ActiveProcessorCount|MaxRAMPercentage|InitialRAMPercentage|MinRAMPercentage|MaxRAM|MaxHeapSize)=\S+$/,
  /^-XX:[+-]UseContainerSupport$/,
  /^-Xm[xs]\w+$/,
];

/** V8 takes its flags with dashes or underscores. */
const nodeHeapFlag = /^--max[-_](old|semi)[-_]space[-_]size=(\d+)$/;

function tokensOf(value: string): string[] {
  return value.split(/\s+/).filter((token) => token !== "");
}

/** The JVM's sizing options in a JVM option variable, the rest dropped. */
function jvmLimitTokensOf(value: string): string {
  return tokensOf(value)
    .filter((token) => jvmLimitTokens.some((pattern) => pattern.test(token)))
    .join(" ");
}

/** The heap flags among node options, the rest dropped. */
export function nodeHeapFlagsOf(tokens: readonly string[]): string[] {
  return tokens.filter((token) => nodeHeapFlag.test(token));
}

function nodeHeapTokensOf(value: string): string {
  return nodeHeapFlagsOf(tokensOf(value)).join(" ");
}

export interface NodeHeapFlags {
  maxOldSpaceMiB: number | null;
  maxSemiSpaceMiB: number | null;
}

/** The last of each flag wins, as in V8. */
export function parseNodeHeapFlags(value: string): NodeHeapFlags {
  const flags: NodeHeapFlags = { maxOldSpaceMiB: null, maxSemiSpaceMiB: null };
  for (const token of tokensOf(value)) {
    const match = nodeHeapFlag.exec(token);
    if (match === null) continue;
    if (match[1] === "old") flags.maxOldSpaceMiB = Number(match[2]);
    else flags.maxSemiSpaceMiB = Number(match[2]);
  }
  return flags;
}

/**
 * The JVM reads JAVA_TOOL_OPTIONS first, the java launcher puts JDK_JAVA_OPTIONS before the
 * command line, and _JAVA_OPTIONS comes last: a later one overrides an earlier one.
 */
export const jvmOptionVariablesInOrder = ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"] as const;

export interface JvmLimitOptions {
  activeProcessorCount?: number;
  maxRamPercentage?: number;
  /** -Xmx or -XX:MaxHeapSize, as written and in bytes */
  maxHeap?: { written: string; bytes: number };
}

const jvmSizeUnits: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

function parseJvmSize(text: string): number | null {
  const match = /^(\d+)([kmgt]?)$/i.exec(text);
  const unit = jvmSizeUnits[(match?.[2] ?? "").toLowerCase()];
  return match === null || unit === undefined ? null : Number(match[1]) * unit;
}

/** The sizing options the JVM option variables of `env` give, the later variable winning. */
export function parseJvmLimitOptions(env: Record<string, string>): JvmLimitOptions {
  const options: JvmLimitOptions = {};
  for (const token of jvmOptionVariablesInOrder.flatMap((name) => tokensOf(env[name] ?? ""))) {
    const processors = /^-XX:ActiveProcessorCount=(-?\d+)$/.exec(token);
    const percentage = /^-XX:MaxRAMPercentage=(\d+(?:\.\d+)?)$/.exec(token);
    const heap = /^(?:-Xmx|-XX:MaxHeapSize=)(\w+)$/.exec(token);
    const heapBytes = heap?.[1] === undefined ? null : parseJvmSize(heap[1]);
    if (processors !== null) options.activeProcessorCount = Number(processors[1]);
    else if (percentage !== null) options.maxRamPercentage = Number(percentage[1]);
    else if (heapBytes !== null) options.maxHeap = { written: token, bytes: heapBytes };
  }
  return options;
}

/** The variables kept from a process's environment, per runtime: the ones that carry limits. */
export const observedVariables = {
  jvm: jvmOptionVariablesInOrder,
  go: ["GOMAXPROCS", "GOMEMLIMIT"],
  node: ["NODE_OPTIONS", "UV_THREADPOOL_SIZE"],
  python: ["WEB_CONCURRENCY"],
  dotnet: ["DOTNET_PROCESSOR_COUNT", "DOTNET_GCHeapHardLimit"],
} as const satisfies Record<RuntimeName, readonly string[]>;

/** What is kept of an observed variable: of an option variable its sizing options, of any other the value. */
export function sizingPartOf(name: string, value: string): string {
  if ((jvmOptionVariablesInOrder as readonly string[]).includes(name)) return jvmLimitTokensOf(value);
  return name === "NODE_OPTIONS" ? nodeHeapTokensOf(value) : value;
}
