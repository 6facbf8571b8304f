/**
 * CPU and memory limits for app processes through Linux cgroups, v2 or v1, where the host lets
 * the runtime create them. Each instance gets a cgroup of its own below the control plane's own
 * cgroup (`<own>/waybill-<control plane id>/<instance id>`), so the host's limits on the control
 * plane still bound its apps, and a successor control plane with the same id finds the same
 * paths to reuse or remove.
 *
 * An app joins its cgroup before its first instruction: it is started through `/bin/sh`, which
 * writes its own pid into the cgroup and then execs the app under that same pid.
 */
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { sleep } from "./timing.js";
import type { InstanceLimits } from "./types.js";

/** The CFS period the quota is a share of (the kernel's default) */
const CPU_PERIOD_MICROS = 100_000;
/** The smallest quota the kernel accepts */
const MIN_CPU_QUOTA_MICROS = 1_000;
/** How long a cgroup may stay busy after its processes were killed, while they are reaped */
const REMOVE_WAIT_MS = 2_000;

/** One line of /proc/<pid>/cgroup */
export interface CgroupMembership {
  /** 0 for the unified (v2) hierarchy */
  hierarchyId: number;
  /** v1 controllers of the hierarchy, e.g. ["cpu", "cpuacct"]; empty for v2 */
  controllers: string[];
  /** Relative to the hierarchy's root, e.g. "/system.slice/waybill.service" */
  path: string;
}

/** A cgroup filesystem from /proc/self/mountinfo */
export interface CgroupMount {
  version: 1 | 2;
  mountPoint: string;
  /** The cgroup shown at the mount point, "/" unless the mount is a subtree (namespaces, bind mounts) */
  root: string;
  /** v1 controllers mounted there; empty for v2 */
  controllers: string[];
}

export function parseProcCgroup(text: string): CgroupMembership[] {
  const memberships: CgroupMembership[] = [];
  for (const line of text.split("\n")) {
    // The path may contain ':' itself, so only the first two separate fields.
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    const controllers = (match[2] ?? "")
      .split(",")
      .filter((name) => name !== "" && !name.startsWith("name="));
    memberships.push({ hierarchyId: Number(match[1]), controllers, path: match[3] ?? "/" });
  }
  return memberships;
}

/** mountinfo escapes space, tab, newline and backslash in paths as octal. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_escape, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Options of a v1 cgroup mount that are not controllers (those with a value are skipped anyway) */
const V1_MOUNT_OPTIONS = new Set([
  "rw",
  "ro",
  "xattr",
  "noprefix",
  "clone_children",
  "cpuset_v2_mode",
  "favordynmods",
]);

export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    // id parent major:minor root mount-point options [optional fields…] - fstype source super-options
    const separator = line.indexOf(" - ");
    if (separator === -1) continue;
    const before = line.slice(0, separator).split(" ");
    const [fsType, , superOptions = ""] = line.slice(separator + 3).split(" ");
    const root = before[3];
    const mountPoint = before[4];
    if (root === undefined || mountPoint === undefined) continue;
    if (fsType === "cgroup2") {
      mounts.push({
        version: 2,
        mountPoint: unescapeMountPath(mountPoint),
        root: unescapeMountPath(root),
        controllers: [],
      });
    } else if (fsType === "cgroup") {
      const controllers = superOptions
        .split(",")
        .filter((option) => !V1_MOUNT_OPTIONS.has(option) && !option.includes("="));
      mounts.push({
        version: 1,
        mountPoint: unescapeMountPath(mountPoint),
        root: unescapeMountPath(root),
        controllers,
      });
    }
  }
  return mounts;
}

/**
 * The directory of a process's cgroup: for a v1 controller ("cpu", "memory") in that
 * controller's hierarchy, for "unified" in the v2 hierarchy. Null when it is not mounted here
 * or lies outside what is mounted.
 */
export function cgroupDirectory(
  memberships: readonly CgroupMembership[],
  mounts: readonly CgroupMount[],
  hierarchy: "cpu" | "memory" | "unified",
): string | null {
  const isUnified = hierarchy === "unified";
  const membership = memberships.find((entry) =>
    isUnified ? entry.hierarchyId === 0 : entry.controllers.includes(hierarchy),
  );
  const mount = mounts.find((entry) =>
    isUnified ? entry.version === 2 : entry.version === 1 && entry.controllers.includes(hierarchy),
  );
  if (membership === undefined || mount === undefined) return null;
  if (mount.root === "/") return join(mount.mountPoint, membership.path);
  if (membership.path !== mount.root && !membership.path.startsWith(`${mount.root}/`)) return null;
  return join(mount.mountPoint, membership.path.slice(mount.root.length));
}

/** Where instance cgroups go: each instance gets `<parent>/<instance id>` in each listed hierarchy. */
export type CgroupPlacement =
  { version: 2; parentDir: string } | { version: 1; cpuParentDir: string; memoryParentDir: string };

export type CgroupLocation = { found: true; placement: CgroupPlacement } | { found: false; reason: string };

interface ProcessCgroups {
  memberships: CgroupMembership[];
  mounts: CgroupMount[];
}

async function readProcessCgroups(pid: number | "self"): Promise<ProcessCgroups> {
  const [cgroupText, mountinfo] = await Promise.all([
    readFile(`/proc/${pid}/cgroup`, "utf8"),
    readFile("/proc/self/mountinfo", "utf8"),
  ]);
  return { memberships: parseProcCgroup(cgroupText), mounts: parseCgroupMounts(mountinfo) };
}

async function controllersOf(dir: string, file: string): Promise<string[]> {
  try {
    return (await readFile(join(dir, file), "utf8")).trim().split(/\s+/);
  } catch {
    return [];
  }
}

/** Reads only: where this control plane's instance cgroups would go, or why they cannot. */
export async function locateCgroups(controlPlaneId: string): Promise<CgroupLocation> {
  let own: ProcessCgroups;
  try {
    own = await readProcessCgroups("self");
  } catch (error) {
    return { found: false, reason: `cannot read /proc: ${errorMessage(error)}` };
  }
  const parentName = `waybill-${controlPlaneId.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  const unifiedDir = cgroupDirectory(own.memberships, own.mounts, "unified");
  if (unifiedDir !== null) {
    const available = await controllersOf(unifiedDir, "cgroup.controllers");
    if (available.includes("cpu") && available.includes("memory")) {
      return { found: true, placement: { version: 2, parentDir: join(unifiedDir, parentName) } };
    }
  }
  const cpuDir = cgroupDirectory(own.memberships, own.mounts, "cpu");
  const memoryDir = cgroupDirectory(own.memberships, own.mounts, "memory");
  if (cpuDir !== null && memoryDir !== null) {
    return {
      found: true,
      placement: {
        version: 1,
        cpuParentDir: join(cpuDir, parentName),
        memoryParentDir: join(memoryDir, parentName),
      },
    };
  }
  const unifiedNote =
    unifiedDir === null
      ? "no cgroup v2 hierarchy"
      : `the cgroup v2 hierarchy at ${unifiedDir} lacks cpu or memory`;
  return { found: false, reason: `${unifiedNote}, and no cgroup v1 cpu and memory hierarchies are mounted` };
}

/**
 * Creates the control plane's parent cgroups, so that instance cgroups can be made below them.
 * A cgroup v2 parent needs cpu and memory enabled for its children in its own parent, which the
 * kernel refuses where that cgroup holds processes (other than at the root): then there is no
 * delegated subtree, and the reason says so.
 */
export async function prepareCgroups(
  placement: CgroupPlacement,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    if (placement.version === 1) {
      await mkdir(placement.cpuParentDir, { recursive: true });
      await mkdir(placement.memoryParentDir, { recursive: true });
      return { ok: true };
    }
    const ownDir = join(placement.parentDir, "..");
    const enabled = await controllersOf(ownDir, "cgroup.subtree_control");
    if (!enabled.includes("cpu") || !enabled.includes("memory")) {
      await writeFile(join(ownDir, "cgroup.subtree_control"), "+cpu +memory");
    }
    await mkdir(placement.parentDir, { recursive: true });
    await writeFile(join(placement.parentDir, "cgroup.subtree_control"), "+cpu +memory");
    return { ok: true };
  } catch (error) {
    const where = placement.version === 1 ? placement.cpuParentDir : placement.parentDir;
    return { ok: false, reason: `cannot set up cgroups at ${where}: ${errorMessage(error)}` };
  }
}

function instanceDirs(placement: CgroupPlacement, instanceId: string): { cpu: string; memory: string } {
  if (placement.version === 2) {
    const dir = join(placement.parentDir, instanceId);
    return { cpu: dir, memory: dir };
  }
  return {
    cpu: join(placement.cpuParentDir, instanceId),
    memory: join(placement.memoryParentDir, instanceId),
  };
}

/** The cgroup.procs files a process must write its pid to, to join the instance's cgroups */
export type CgroupProcsFiles = string[];

/** Where a process joins the instance's cgroups: a probe that must see the instance's limits does */
export function instanceProcsFiles(placement: CgroupPlacement, instanceId: string): CgroupProcsFiles {
  const dirs = instanceDirs(placement, instanceId);
  return placement.version === 2
    ? [join(dirs.cpu, "cgroup.procs")]
    : [join(dirs.cpu, "cgroup.procs"), join(dirs.memory, "cgroup.procs")];
}

/** Creates (or reuses) the instance's cgroup and sets its limits. */
export async function createInstanceCgroup(
  placement: CgroupPlacement,
  instanceId: string,
  limits: InstanceLimits,
): Promise<CgroupProcsFiles> {
  const dirs = instanceDirs(placement, instanceId);
  const quotaMicros = Math.max(
    MIN_CPU_QUOTA_MICROS,
    Math.round((limits.cpuMillicores * CPU_PERIOD_MICROS) / 1000),
  );
  const memoryBytes = String(Math.round(limits.memoryBytes));
  await mkdir(dirs.cpu, { recursive: true });
  await mkdir(dirs.memory, { recursive: true });
  if (placement.version === 2) {
    await writeFile(join(dirs.cpu, "cpu.max"), `${quotaMicros} ${CPU_PERIOD_MICROS}`);
    await writeFile(join(dirs.memory, "memory.max"), memoryBytes);
  } else {
    await writeFile(join(dirs.cpu, "cpu.cfs_period_us"), String(CPU_PERIOD_MICROS));
    await writeFile(join(dirs.cpu, "cpu.cfs_quota_us"), String(quotaMicros));
    await writeFile(join(dirs.memory, "memory.limit_in_bytes"), memoryBytes);
  }
  return instanceProcsFiles(placement, instanceId);
}

/**
 * Removes the instance's cgroup once its processes are gone. The kernel refuses (EBUSY) while
 * killed processes are still being reaped, so that is retried for a moment.
 */
export async function removeInstanceCgroup(placement: CgroupPlacement, instanceId: string): Promise<void> {
  const dirs = instanceDirs(placement, instanceId);
  for (const dir of new Set([dirs.cpu, dirs.memory])) {
    let lastError: unknown = null;
    const removed = await waitForAsync(async () => {
      try {
        await rmdir(dir);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
        lastError = error;
        return false;
      }
    }, REMOVE_WAIT_MS);
    if (!removed) throw new Error(`cannot remove cgroup ${dir}: ${errorMessage(lastError)}`);
  }
}

/**
 * OOM kills in the instance's memory cgroup: `oom_kill` of memory.events (v2) or of
 * memory.oom_control (v1, kernels since 4.13); null where neither tells.
 */
export async function readOomKills(placement: CgroupPlacement, instanceId: string): Promise<number | null> {
  const dir = instanceDirs(placement, instanceId).memory;
  const file = placement.version === 2 ? "memory.events" : "memory.oom_control";
  try {
    return parseOomKills(await readFile(join(dir, file), "utf8"));
  } catch {
    return null;
  }
}

export function parseOomKills(text: string): number | null {
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match === null ? null : Number(match[1]);
}

/** Removes the control plane's parent cgroups if no instance cgroup is left in them. */
export async function removeEmptyParents(placement: CgroupPlacement): Promise<void> {
  const parents =
    placement.version === 2 ? [placement.parentDir] : [placement.cpuParentDir, placement.memoryParentDir];
  for (const dir of parents) await rmdir(dir).catch(() => undefined);
}

async function waitForAsync(attempt: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await attempt())) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

// $1 is how many cgroup.procs files follow; then the app's argv, exec'd so it keeps the pid.
const JOIN_SCRIPT =
  'count=$1; shift; while [ "$count" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; count=$((count - 1)); done; exec "$@"';

/** The argv that runs `command` inside the cgroup whose procs files are given. */
export function commandInCgroup(procsFiles: CgroupProcsFiles, command: readonly string[]): string[] {
  return [
    "/bin/sh",
    "-c",
    JOIN_SCRIPT,
    "waybill-cgroup-join",
    String(procsFiles.length),
    ...procsFiles,
    ...command,
  ];
}

/** The process's CPU throttling counters from its cgroup's cpu.stat */
export interface CpuThrottling {
  periods: number;
  throttledPeriods: number;
}

/** v1 and v2 both name them nr_periods and nr_throttled; null when the file lacks them. */
export function parseCpuStat(text: string): CpuThrottling | null {
  const fields = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [name, value] = line.trim().split(/\s+/);
    if (name !== undefined && value !== undefined && /^\d+$/.test(value)) fields.set(name, Number(value));
  }
  const periods = fields.get("nr_periods");
  const throttledPeriods = fields.get("nr_throttled");
  return periods === undefined || throttledPeriods === undefined ? null : { periods, throttledPeriods };
}

/** Throttling counters of the cgroup `pid` is in; null where no cpu.stat tells them. */
export async function readCpuThrottling(pid: number): Promise<CpuThrottling | null> {
  let cgroups: ProcessCgroups;
  try {
    cgroups = await readProcessCgroups(pid);
  } catch {
    return null;
  }
  // A v1 cpu hierarchy is where a quota is enforced on a hybrid host; v2 otherwise.
  for (const hierarchy of ["cpu", "unified"] as const) {
    const dir = cgroupDirectory(cgroups.memberships, cgroups.mounts, hierarchy);
    if (dir === null) continue;
    try {
      const throttling = parseCpuStat(await readFile(join(dir, "cpu.stat"), "utf8"));
      if (throttling !== null) return throttling;
    } catch {
      // No cpu.stat in this hierarchy; try the next.
    }
  }
  return null;
}
