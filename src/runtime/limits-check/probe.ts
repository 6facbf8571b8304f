/**
 * Observes what a running instance's language runtime took of its limits (Linux: /proc).
 *
 * - JVM: the java process of the instance's process group is asked with `jcmd` (the one beside
 *   its `java`, so the versions match): `VM.flags -all` for ActiveProcessorCount and
 *   MaxHeapSize, `VM.info` for the processors it took at start ("CPU: total 2 (initial active
 *   1)"). That is the running JVM itself, whatever its command line added; and unlike a second
 *   JVM started in the instance's cgroup, it charges no memory to the instance. jcmd works
 *   across users for root; a JVM started with -XX:+DisableAttachMechanism is unobservable.
 * - Node: V8 has no outside view of its heap limit, so a probe `node -e` of the same binary, with
 *   the heap flags of the process's NODE_OPTIONS and command line, runs in the instance's cgroup
 *   (when `procsFiles` are given: V8 sizes a default heap from the cgroup's memory limit) and
 *   prints heap_size_limit. Its memory (some 40 MiB, for a moment) counts against the
 *   instance's limit. The answer is remembered by everything it depends on (`nodeProbeKey`), so a
 *   later instance of the same binary, flags and limits is not probed again.
 * - Go, .NET: they read their limits from the environment at start; /proc/<pid>/environ is the
 *   environment the process was started with.
 * - Python: the gunicorn or uvicorn master among the process group, and its worker processes.
 *
 * Of an environment only `observedVariables` are read, and of option variables only their
 * sizing options. Commands run without a shell (the cgroup wrapper's fixed script aside), with a
 * timeout. Ask after the instance is healthy: jcmd signals the JVM, which must have started.
 */
import { execFile } from "node:child_process";
import { constants, readFileSync, readdirSync } from "node:fs";
import { access, readFile, readlink, stat } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import { basename, dirname, join } from "node:path";
import type { RuntimeName } from "../../kube/runtime-hints.js";
import { errorMessage } from "../../errors.js";
import { commandInCgroup, type CgroupProcsFiles } from "../cgroups.js";
import type { JvmObservation, NodeObservation, PythonObservation, RuntimeObservation } from "./compare.js";
import { nodeHeapFlagsOf, observedVariables, sizingPartOf } from "./runtime-options.js";

/** A JVM attach or a node start on a busy 2-core machine takes a second; this is far beyond it. */
const PROBE_TIMEOUT_MS = 15_000;
/** VM.info lists every thread and memory map; a few hundred KiB is usual */
const PROBE_OUTPUT_LIMIT_BYTES = 8 * 2 ** 20;

export interface ObservationTarget {
  runtime: RuntimeName;
  /** The instance's process: the leader of its process group */
  pid: number;
  /** The instance's cgroup.procs files, for the Node probe to join */
  procsFiles?: CgroupProcsFiles;
}

export interface Unobservable {
  unobservable: string;
}

export async function observeRuntime(
  target: ObservationTarget,
  nodeProbeAnswers: NodeProbeAnswers = rememberedNodeProbes,
): Promise<RuntimeObservation | Unobservable> {
  try {
    if ((await readProcessEntry(target.pid)) === null) {
      return { unobservable: `process ${target.pid} is not running` };
    }
    switch (target.runtime) {
      case "jvm":
        return await observeJvm(target.pid);
      case "node":
        return await observeNode(target.pid, target.procsFiles, nodeProbeAnswers);
      case "python":
        return await observePython(target.pid);
      case "go":
      case "dotnet":
        return { runtime: target.runtime, environment: await readEnvironment(target.pid, target.runtime) };
    }
  } catch (error) {
    return { unobservable: errorMessage(error) };
  }
}

async function observeJvm(leader: number): Promise<JvmObservation | Unobservable> {
  const jvm = await findRuntimeProcess(leader, "java");
  const environment = await readEnvironment(jvm.pid, "jvm");
  const jcmd = await besideOrOnPath(jvm.executable, "jcmd");
  const flags = parseJvmFlags(await runJcmd(jcmd, jvm.pid, ["VM.flags", "-all"]));
  const availableProcessors = parseInitialActiveProcessors(await runJcmd(jcmd, jvm.pid, ["VM.info"]));
  const activeProcessorCountFlag = flags.get("ActiveProcessorCount");
  const maxHeapBytes = flags.get("MaxHeapSize");
  if (activeProcessorCountFlag === undefined || maxHeapBytes === undefined || availableProcessors === null) {
    return {
      unobservable: `jcmd's answers from JVM ${jvm.pid} lack ActiveProcessorCount, MaxHeapSize or its CPU count`,
    };
  }
  return { runtime: "jvm", environment, activeProcessorCountFlag, availableProcessors, maxHeapBytes };
}

/** The integer flags of `jcmd <pid> VM.flags -all` (the format of -XX:+PrintFlagsFinal). */
export function parseJvmFlags(text: string): Map<string, number> {
  const flags = new Map<string, number>();
  for (const line of text.split("\n")) {
    // "     int ActiveProcessorCount   = -1    {product} {default}"; older JDKs write ":=" when set
    const match = /^\s*\S+\s+(\w+)\s+:?=\s+(-?\d+)\s/.exec(line);
    if (match?.[1] !== undefined) flags.set(match[1], Number(match[2]));
  }
  return flags;
}

/**
 * From `jcmd <pid> VM.info`: "CPU: total 2 (initial active 1)". The initial active count is
 * what os::active_processor_count() said at start: ActiveProcessorCount when set, else the
 * count derived from the container, else every CPU.
 */
export function parseInitialActiveProcessors(text: string): number | null {
  const match = /^CPU: total \d+ \(initial active (\d+)\)/m.exec(text);
  return match === null ? null : Number(match[1]);
}

async function runJcmd(jcmd: string, pid: number, command: readonly string[]): Promise<string> {
  // jcmd is a JVM itself: the control plane's own JAVA_TOOL_OPTIONS must not reach it.
  return run(
    [jcmd, String(pid), ...command],
    { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    `jcmd ${command[0]}`,
  );
}

/** V8's heap limit under the flags given, as JSON; `-e` runs CommonJS, so `require` works. */
const NODE_PROBE_SCRIPT =
  'const v8 = require("node:v8"); const os = require("node:os"); process.stdout.write(JSON.stringify({ heapSizeLimit: v8.getHeapStatistics().heap_size_limit, availableParallelism: os.availableParallelism() }));';

type NodeProbeAnswer = Pick<NodeObservation, "heapSizeLimitBytes" | "availableParallelism">;

/**
 * The heap probe's answers by everything they depend on (`nodeProbeKey`): a stage after stage of
 * the same artifact at the same size asks the same question, and a node start is most of a
 * test's time after its load. Kept in memory only, so a restarted control plane probes afresh.
 */
export class NodeProbeAnswers {
  private readonly answers = new Map<string, NodeProbeAnswer>();
  /** How many observations were answered from here instead of by a probe */
  hits = 0;

  constructor(private readonly capacity = 64) {}

  get(key: string): NodeProbeAnswer | undefined {
    const answer = this.answers.get(key);
    if (answer !== undefined) this.hits += 1;
    return answer;
  }

  set(key: string, answer: NodeProbeAnswer): void {
    const oldest = this.answers.keys().next();
    if (this.answers.size >= this.capacity && !oldest.done) this.answers.delete(oldest.value);
    this.answers.set(key, answer);
  }
}

const rememberedNodeProbes = new NodeProbeAnswers();

async function observeNode(
  leader: number,
  procsFiles: CgroupProcsFiles | undefined,
  answers: NodeProbeAnswers,
): Promise<NodeObservation | Unobservable> {
  const node = await findRuntimeProcess(leader, "node");
  const environment = await readEnvironment(node.pid, "node");
  const commandLineFlags = nodeHeapFlagsOf(nodeOwnOptions(await readCommandLine(node.pid)));
  const probe = [node.executable, ...commandLineFlags, "-e", NODE_PROBE_SCRIPT];
  // Like the app's, the probe's command line overrides its NODE_OPTIONS.
  const env: Record<string, string> =
    environment.NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: environment.NODE_OPTIONS };
  // Outside a cgroup of its own the probe would see the control plane's limits, which are not
  // part of the key: only a probe in the instance's cgroup is remembered.
  const key = procsFiles === undefined ? undefined : await nodeProbeKey(probe, env, procsFiles);
  const remembered = key === undefined ? undefined : answers.get(key);
  if (remembered !== undefined) return { runtime: "node", environment, ...remembered };
  const output = await run(
    procsFiles === undefined ? probe : commandInCgroup(procsFiles, probe),
    env,
    "the node heap probe",
  );
  const measured = parseNodeProbeOutput(output);
  if (measured === null) return { unobservable: "the node heap probe printed no heap statistics" };
  if (key !== undefined) answers.set(key, measured);
  return { runtime: "node", environment, ...measured };
}

/**
 * What the probe's answer depends on, as one string; undefined when any of it cannot be read.
 * V8 sizes its heap from its flags and the memory it is given (the host's, or less under its
 * cgroup's limit; an ancestor's limit may count too); the parallelism is the CPU set the probe
 * inherits from the control plane, narrowed by its cgroup's. So: the node binary (by its
 * inode, size and times: replaced or rebuilt, it is another), the probe's command line and
 * NODE_OPTIONS, the limit files of the cgroups it joins and of every ancestor, the host's memory
 * and the control plane's own CPU count.
 */
export async function nodeProbeKey(
  probe: readonly string[],
  env: Readonly<Record<string, string>>,
  procsFiles: CgroupProcsFiles,
): Promise<string | undefined> {
  const [executable] = probe;
  if (executable === undefined) return undefined;
  try {
    const binary = await stat(executable);
    const cgroups = await Promise.all(procsFiles.map((file) => cgroupLimitsUpward(dirname(file))));
    return JSON.stringify({
      binary: [executable, binary.dev, binary.ino, binary.size, binary.mtimeMs, binary.ctimeMs],
      probe,
      env,
      cgroups,
      hostMemory: totalmem(),
      parallelism: availableParallelism(),
    });
  } catch {
    return undefined;
  }
}

/** Every limit a runtime may read, v1 and v2 names alike; a file a cgroup lacks reads null. */
const CGROUP_LIMIT_FILES = [
  "memory.max",
  "memory.high",
  "memory.swap.max",
  "memory.limit_in_bytes",
  "memory.soft_limit_in_bytes",
  "memory.memsw.limit_in_bytes",
  "cpu.max",
  "cpu.cfs_quota_us",
  "cpu.cfs_period_us",
  "cpuset.cpus",
  "cpuset.cpus.effective",
];

/** The limit files of a cgroup and of each ancestor up to its hierarchy's root, nearest first. */
async function cgroupLimitsUpward(dir: string): Promise<Record<string, string | null>[]> {
  const levels: Record<string, string | null>[] = [];
  for (let current = dir; ; current = dirname(current)) {
    const files = await Promise.all(
      CGROUP_LIMIT_FILES.map((name) => readFile(join(current, name), "utf8").catch(() => null)),
    );
    levels.push(Object.fromEntries(CGROUP_LIMIT_FILES.map((name, index) => [name, files[index] ?? null])));
    const parent = dirname(current);
    // The hierarchy's root is the last folder with a cgroup.procs of its own.
    if (parent === current || !(await exists(join(parent, "cgroup.procs")))) return levels;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** node's own options: those before the script, `-e` or anything else that is not an option. */
function nodeOwnOptions(argv: readonly string[]): string[] {
  const firstOther = argv.findIndex((arg, index) => index > 0 && !arg.startsWith("-"));
  return argv.slice(1, firstOther === -1 ? argv.length : firstOther);
}

export function parseNodeProbeOutput(
  text: string,
): Pick<NodeObservation, "heapSizeLimitBytes" | "availableParallelism"> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const { heapSizeLimit, availableParallelism } = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(heapSizeLimit) || !Number.isSafeInteger(availableParallelism)) return null;
  return {
    heapSizeLimitBytes: heapSizeLimit as number,
    availableParallelism: availableParallelism as number,
  };
}

async function observePython(leader: number): Promise<PythonObservation> {
  const environment = await readEnvironment(leader, "python");
  const members = await processGroupMembers(leader);
  const classified = await Promise.all(
    members.map(async (member) => ({
      ...member,
      // A process that exits while being read is no worker.
      role: pythonProcessRole(await readCommandLine(member.pid).catch(() => [])),
    })),
  );
  return { runtime: "python", environment, webServer: findWebServer(classified) };
}

export type PythonProcessRole = "gunicorn" | "uvicorn" | "multiprocessing helper" | "other";

/**
 * gunicorn and uvicorn by their command line: `gunicorn …`, `python3 /usr/bin/gunicorn …`,
 * `python -m uvicorn …`, or a setproctitle title ("gunicorn: master [app]"). Python's
 * multiprocessing starts helpers beside uvicorn's workers (the resource tracker), which serve
 * nothing.
 */
export function pythonProcessRole(argv: readonly string[]): PythonProcessRole {
  const [first = "", second = "", third = ""] = argv;
  const program = /^python[\d.]*$/.test(basename(first))
    ? second === "-m"
      ? third
      : basename(second)
    : basename(first);
  for (const server of ["gunicorn", "uvicorn"] as const) {
    if (program === server || first.startsWith(`${server}:`)) return server;
  }
  const helper = argv.some(
    (arg) => arg.includes("multiprocessing.resource_tracker") || arg.includes("multiprocessing.forkserver"),
  );
  return helper ? "multiprocessing helper" : "other";
}

export interface ClassifiedProcess extends ProcessEntry {
  role: PythonProcessRole;
}

/**
 * The master is the gunicorn or uvicorn process whose parent is not one too (its forked workers
 * carry its command line); its workers are its children. uvicorn without workers serves
 * from the master itself.
 */
export function findWebServer(members: readonly ClassifiedProcess[]): PythonObservation["webServer"] {
  const servers = members.filter(
    (entry): entry is ClassifiedProcess & { role: "gunicorn" | "uvicorn" } =>
      entry.role === "gunicorn" || entry.role === "uvicorn",
  );
  const serverPids = new Set(servers.map((entry) => entry.pid));
  const master = servers.filter((entry) => !serverPids.has(entry.ppid)).sort((a, b) => a.pid - b.pid)[0];
  if (master === undefined) return null;
  const children = members.filter(
    (entry) => entry.ppid === master.pid && entry.role !== "multiprocessing helper",
  ).length;
  return { name: master.role, workers: master.role === "uvicorn" ? Math.max(1, children) : children };
}

/** One process of /proc */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  pgid: number;
}

/** /proc/<pid>/stat; null for a zombie, which has no environment or command line left. */
export function parseProcStatLine(pid: number, text: string): ProcessEntry | null {
  // The command name, in parentheses, may itself contain spaces and parentheses.
  const [state, ppid, pgid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
  if (state === undefined || state === "Z" || ppid === undefined || pgid === undefined) return null;
  const entry = { pid, ppid: Number(ppid), pgid: Number(pgid) };
  return Number.isInteger(entry.ppid) && Number.isInteger(entry.pgid) ? entry : null;
}

async function readProcessEntry(pid: number): Promise<ProcessEntry | null> {
  try {
    return parseProcStatLine(pid, await readFile(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/**
 * The live processes of the group, its leader first. Processes that exit meanwhile are skipped.
 * Read synchronously: /proc's files are made in memory as they are read, and a hundred processes'
 * take a few ms so, where through the thread pool they took 30–50 ms on a busy machine, after
 * every test's window.
 */
async function processGroupMembers(pgid: number): Promise<ProcessEntry[]> {
  const members: ProcessEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let entry: ProcessEntry | null;
    try {
      entry = parseProcStatLine(Number(name), readFileSync(`/proc/${name}/stat`, "utf8"));
    } catch {
      continue;
    }
    if (entry?.pgid === pgid) members.push(entry);
  }
  return members.sort((a, b) => (a.pid === pgid ? -1 : b.pid === pgid ? 1 : a.pid - b.pid));
}

/** The group's process running `name` (java, node): the leader when it exec'd it, else a child of a wrapper. */
async function findRuntimeProcess(pgid: number, name: string): Promise<{ pid: number; executable: string }> {
  for (const member of await processGroupMembers(pgid)) {
    const executable = await readlink(`/proc/${member.pid}/exe`).catch(() => null);
    // A binary replaced on disk since the process started reads "… (deleted)".
    const path = executable?.replace(/ \(deleted\)$/, "");
    if (path !== undefined && basename(path) === name) return { pid: member.pid, executable: path };
  }
  throw new Error(`no ${name} process in the process group of ${pgid}`);
}

async function besideOrOnPath(executable: string, tool: string): Promise<string> {
  const beside = join(dirname(executable), tool);
  try {
    await access(beside, constants.X_OK);
    return beside;
  } catch {
    return tool;
  }
}

async function readEnvironment(pid: number, runtime: RuntimeName): Promise<Record<string, string>> {
  const names: readonly string[] = observedVariables[runtime];
  let environ: string;
  try {
    environ = await readFile(`/proc/${pid}/environ`, "utf8");
  } catch (error) {
    throw new Error(`cannot read the environment of process ${pid}: ${errorMessage(error)}`);
  }
  const environment: Record<string, string> = {};
  for (const variable of environ.split("\0")) {
    const separator = variable.indexOf("=");
    const name = variable.slice(0, separator);
    if (separator > 0 && names.includes(name)) {
      environment[name] = sizingPartOf(name, variable.slice(separator + 1));
    }
  }
  return environment;
}

async function readCommandLine(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/cmdline`, "utf8");
  return text.split("\0").slice(0, -1);
}

function run(argv: readonly string[], env: Record<string, string>, what: string): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error(`${what}: empty command`));
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env,
        timeout: PROBE_TIMEOUT_MS,
        killSignal: "SIGKILL",
        maxBuffer: PROBE_OUTPUT_LIMIT_BYTES,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        // jcmd says why on stdout, after a "<pid>:" line; the error's own message would quote the whole argv.
        const said = `${stderr}\n${stdout}`
          .split("\n")
          .map((line) => line.trim())
          .find((line) => line !== "" && !/^\d+:$/.test(line));
        const why = error.killed
          ? `no answer within ${PROBE_TIMEOUT_MS / 1000} s`
          : (said ?? `exit ${error.code}`);
        reject(new Error(`${what} failed: ${why}`));
      },
    );
  });
}
