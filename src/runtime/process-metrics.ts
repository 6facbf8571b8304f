/**
 * CPU time and memory of an instance's whole process group, read from /proc (Linux), and CPU
 * throttling from its cgroup. An app's helpers (workers, a wrapper shell's children) run in its
 * group, so the group is what the instance costs.
 */
import { readFile } from "node:fs/promises";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { type CpuThrottling, readCpuThrottling } from "./cgroups.js";
import { sleep } from "./timing.js";
import type { ProcessMetrics, ProcessSampler, TimeWindow, UsagePerSecond } from "./types.js";

/**
 * USER_HZ, the unit of the CPU times in /proc/<pid>/stat. The kernel fixes it at 100 for user
 * space on every architecture Node runs on, and Node has no sysconf to ask.
 */
export const CLOCK_TICKS_PER_SECOND = 100;
/** Memory peaks shorter than this between two samples go unseen. */
const PROCESS_SAMPLE_INTERVAL_MS = 200;

export interface ProcStat {
  state: string;
  pgid: number;
  /** utime + stime, plus cutime + cstime: the time of children it has waited for */
  cpuTicks: number;
  /** utime + stime: its own time alone */
  ownCpuTicks: number;
}

export function parseProcStat(text: string): ProcStat | null {
  // The command name, in parentheses, may itself contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const numberAt = (index: number): number => Number(fields[index]);
  const state = fields[0];
  const pgid = numberAt(2);
  // Fields 14–17 of proc(5), counted here from field 3 (state).
  const ownCpuTicks = numberAt(11) + numberAt(12);
  const cpuTicks = ownCpuTicks + numberAt(13) + numberAt(14);
  if (state === undefined || !Number.isInteger(pgid) || !Number.isFinite(cpuTicks)) return null;
  return { state, pgid, cpuTicks, ownCpuTicks };
}

/** A process's own CPU seconds (without its children's); null when it is gone or unreadable */
export async function ownCpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, "utf8"));
    return stat === null ? null : stat.ownCpuTicks / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

export interface ProcStatusMemory {
  rssKib: number;
  /** VmHWM: the highest RSS since the process started */
  peakRssKib: number;
}

/** Zombies and kernel threads have no memory lines: zero. */
export function parseProcStatusMemory(text: string): ProcStatusMemory {
  const kib = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? 0);
  return { rssKib: kib("VmRSS"), peakRssKib: kib("VmHWM") };
}

export interface GroupUsage {
  processes: number;
  cpuTicks: number;
  rssKib: number;
  peakRssKib: number;
}

const procAvailable = existsSync("/proc/self/stat");

function assertProcAvailable(): void {
  if (!procAvailable) throw new Error("process metrics need Linux's /proc, which this host does not have");
}

/**
 * Sums over the live members of the process group; reads race with exits, which are skipped.
 * Read synchronously: /proc's files are made in memory as they are read, never waiting on a disk,
 * and a hundred processes' take a few ms so, where through the thread pool (an open, a read and a
 * close each) they took 30–50 ms and several times the CPU on a busy machine, every sample and
 * again when a test stops its sampler.
 */
export async function readGroupUsage(pgid: number): Promise<GroupUsage> {
  const usage: GroupUsage = { processes: 0, cpuTicks: 0, rssKib: 0, peakRssKib: 0 };
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: ProcStat | null;
    let memory: ProcStatusMemory;
    try {
      stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
      if (stat === null || stat.pgid !== pgid) continue;
      memory = parseProcStatusMemory(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      continue;
    }
    usage.processes += 1;
    usage.cpuTicks += stat.cpuTicks;
    usage.rssKib += memory.rssKib;
    usage.peakRssKib += memory.peakRssKib;
  }
  return usage;
}

const kibToMib = (kib: number): number => Math.round((kib / 1024) * 100) / 100;

export function throttledPct(first: CpuThrottling, last: CpuThrottling): number {
  const periods = last.periods - first.periods;
  // No enforcement period elapsed (no quota, or no CPU used): nothing was throttled.
  if (periods <= 0) return 0;
  return (100 * Math.max(0, last.throttledPeriods - first.throttledPeriods)) / periods;
}

/**
 * Since the instance's processes started: CPU time, the sum of each process's own peak RSS
 * (exact for a single process, an upper bound for several), and throttling since the cgroup
 * was made.
 */
export async function measureSinceStart(pgid: number): Promise<ProcessMetrics> {
  assertProcAvailable();
  const [usage, throttling] = await Promise.all([readGroupUsage(pgid), readCpuThrottling(pgid)]);
  return {
    cpuSeconds: usage.cpuTicks / CLOCK_TICKS_PER_SECOND,
    memoryMaxMib: kibToMib(usage.peakRssKib),
    cpuThrottledPct:
      throttling === null ? null : throttledPct({ periods: 0, throttledPeriods: 0 }, throttling),
  };
}

interface GroupReadings {
  firstTicks: number;
  lastTicks: number;
  firstThrottling: CpuThrottling | null;
  lastThrottling: CpuThrottling | null;
}

/**
 * Samples the instance's process group until stopped. The group is looked up at each sample,
 * so an instance restarted during the window is followed: a group first seen after the start
 * counts all its CPU time, since it began within the window.
 */
export function startSampler(
  currentPgid: () => number | null,
  intervalMs = PROCESS_SAMPLE_INTERVAL_MS,
): ProcessSampler {
  assertProcAvailable();
  const groups = new Map<number, GroupReadings>();
  let peakRssKib = 0;
  let samples = 0;
  const timeline: UsageReading[] = [];
  const sample = async (): Promise<void> => {
    const isBaseline = samples === 0;
    samples += 1;
    const pgid = currentPgid();
    if (pgid === null) return;
    const [usage, throttling] = await Promise.all([readGroupUsage(pgid), readCpuThrottling(pgid)]);
    if (usage.processes === 0) return;
    peakRssKib = Math.max(peakRssKib, usage.rssKib);
    const readings = groups.get(pgid);
    if (readings === undefined) {
      groups.set(pgid, {
        firstTicks: isBaseline ? usage.cpuTicks : 0,
        lastTicks: usage.cpuTicks,
        firstThrottling: throttling,
        lastThrottling: throttling,
      });
    } else {
      // A member reaped outside the group takes its time along; the total must not run backwards.
      readings.lastTicks = Math.max(readings.lastTicks, usage.cpuTicks);
      readings.firstThrottling ??= throttling;
      readings.lastThrottling = throttling ?? readings.lastThrottling;
    }
    timeline.push({ atMs: Date.now(), ticks: ticksSoFar(groups), rssKib: usage.rssKib });
  };

  const stopped = new AbortController();
  // A sample that fails (the group vanished mid-read) is skipped; the next one may succeed.
  const sampleOrSkip = (): Promise<void> => sample().catch(() => undefined);
  const loop = (async () => {
    await sampleOrSkip();
    while (!stopped.signal.aborted) {
      await sleep(intervalMs, stopped.signal);
      if (!stopped.signal.aborted) await sampleOrSkip();
    }
  })();

  return {
    stop: async (within) => {
      stopped.abort();
      await loop;
      await sampleOrSkip();
      let ticks = 0;
      let periods = 0;
      let throttledPeriods = 0;
      let sawThrottling = false;
      for (const readings of groups.values()) {
        ticks += readings.lastTicks - readings.firstTicks;
        if (readings.firstThrottling !== null && readings.lastThrottling !== null) {
          sawThrottling = true;
          periods += readings.lastThrottling.periods - readings.firstThrottling.periods;
          throttledPeriods +=
            readings.lastThrottling.throttledPeriods - readings.firstThrottling.throttledPeriods;
        }
      }
      return {
        cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
        memoryMaxMib: kibToMib(peakRssKib),
        cpuThrottledPct: sawThrottling
          ? throttledPct({ periods: 0, throttledPeriods: 0 }, { periods, throttledPeriods })
          : null,
        perSecond: perSecondWithin(timeline, within),
      };
    },
  };
}

function ticksSoFar(groups: ReadonlyMap<number, GroupReadings>): number {
  let ticks = 0;
  for (const readings of groups.values()) ticks += readings.lastTicks - readings.firstTicks;
  return ticks;
}

/**
 * Usage per whole second, as a recommender samples it (Kubernetes' VPA reads usage every few
 * seconds): CPU from the ticks used in the second, memory the largest resident size seen in it.
 */
export interface UsageReading {
  atMs: number;
  /** CPU ticks of the instance's groups since the sampler began */
  ticks: number;
  rssKib: number;
}

/**
 * CPU and peak memory per whole second, the seconds counted from the first reading in `within`
 * (from the first reading at all without it); a last part-second is left out, as it would read
 * low.
 */
export function perSecondWithin(timeline: readonly UsageReading[], within?: TimeWindow): UsagePerSecond {
  const series: UsagePerSecond = { cpuMillicores: [], memoryMib: [] };
  const inside =
    within === undefined
      ? timeline
      : timeline.filter((reading) => reading.atMs >= within.fromMs && reading.atMs <= within.toMs);
  let secondStart = inside[0];
  let peakRssKibThisSecond = 0;
  for (const reading of inside) {
    peakRssKibThisSecond = Math.max(peakRssKibThisSecond, reading.rssKib);
    if (secondStart === undefined || reading === secondStart) continue;
    const elapsedMs = reading.atMs - secondStart.atMs;
    if (elapsedMs < 1_000) continue;
    const cpuSeconds = (reading.ticks - secondStart.ticks) / CLOCK_TICKS_PER_SECOND;
    series.cpuMillicores.push(Math.round((cpuSeconds * 1_000_000) / elapsedMs));
    series.memoryMib.push(kibToMib(peakRssKibThisSecond));
    secondStart = reading;
    peakRssKibThisSecond = reading.rssKib;
  }
  return series;
}
