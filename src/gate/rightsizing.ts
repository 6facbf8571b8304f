/**
 * Rightsizing by experiment: the whole search and its arithmetic, free of I/O.
 *
 * The experiment runs the stage's test load against the same version twice at once: a reference
 * at the declared `resources`, and a trial at a smaller size, judged by the gate's paired
 * comparison. This file decides which size to try next from the verdicts so far, so a run that
 * resumes after a crash replays its recorded steps and goes on with the same search.
 *
 * - CPU first (memory held at the declared limit), then memory (CPU held at the declared limit),
 *   each a bisection on a log scale between a floor and the declared size: the smallest size that
 *   passed is the proven minimum. A step that fails on CPU says the limit is too small; so does
 *   an OOM kill on memory.
 * - Then one confirmation step at the recommendation (the proven minimums plus the margin), both
 *   limits together, because each was proven with the other one at its declared size.
 * - Beside it, what the usage alone would recommend, by the arithmetic of Kubernetes' Vertical
 *   Pod Autoscaler (CPU p90 + 15%, memory peak + 15%, raised after an OOM kill), which never
 *   checks that the service still meets its SLOs at that size.
 */

export interface Size {
  cpuMillicores: number;
  memoryBytes: number;
}

export type RightsizePhase = "cpu" | "memory" | "confirm";

export interface SearchPlan {
  declared: Size;
  /** Nothing smaller is tried */
  floor: Size;
  /** Trials in all, the confirmation included */
  maxSteps: number;
  /** A bisection stops once its passing size is within this ratio of its failing one (0.1 = 10%) */
  resolution: number;
  /** Added to each proven minimum for the recommendation (0.15 = 15%) */
  margin: number;
}

export interface Trial {
  phase: RightsizePhase;
  size: Size;
}

export interface TrialVerdict extends Trial {
  passed: boolean;
  /** Why it failed, or what held it to a pass */
  reason: string;
}

/** What one copy used over a step, as the sizing lab measured it */
export interface CopyUsage {
  cpuSeconds: number;
  memoryMaxMib: number;
  cpuThrottledPct: number | null;
  perSecond: { cpuMillicores: number[]; memoryMib: number[] };
  /** Kills by the kernel's OOM killer during the step; null where the host does not tell */
  oomKills: number | null;
  /** Times the copy's process was restarted during the step (after a crash or OOM kill) */
  restarts: number;
}

/** What each side showed in one step: the SLIs the gate judged, and the copy's usage */
export interface StepSide {
  slis: Record<string, number>;
  usage: CopyUsage | null;
}

export interface RecordedStep extends TrialVerdict {
  reference: StepSide | null;
  trial: StepSide | null;
  durationMs: number;
}

export const DEFAULT_RESOLUTION = 0.1;
export const DEFAULT_MARGIN = 0.15;
export const MEBIBYTE = 2 ** 20;
/** The kernel's smallest CFS quota is 1 ms of a 100 ms period */
const CPU_FLOOR_MILLICORES = 25;
const MEMORY_FLOOR_BYTES = 32 * MEBIBYTE;
/** Sizes are rounded to these, as people write them */
const CPU_STEP_MILLICORES = 5;
const MEMORY_STEP_BYTES = MEBIBYTE;

export function defaultFloor(declared: Size): Size {
  return {
    cpuMillicores: Math.min(declared.cpuMillicores, CPU_FLOOR_MILLICORES),
    memoryBytes: Math.min(declared.memoryBytes, MEMORY_FLOOR_BYTES),
  };
}

/** Where one dimension's bisection stands: `passing` proven, `failing` too small or still the floor. */
interface Bracket {
  passing: number;
  failing: number;
  steps: number;
}

function bracketOf(plan: SearchPlan, verdicts: readonly TrialVerdict[], phase: "cpu" | "memory"): Bracket {
  const pick = (size: Size) => (phase === "cpu" ? size.cpuMillicores : size.memoryBytes);
  const bracket: Bracket = { passing: pick(plan.declared), failing: pick(plan.floor), steps: 0 };
  for (const verdict of verdicts) {
    if (verdict.phase !== phase) continue;
    bracket.steps += 1;
    const value = pick(verdict.size);
    if (verdict.passed) bracket.passing = Math.min(bracket.passing, value);
    else bracket.failing = Math.max(bracket.failing, value);
  }
  return bracket;
}

/** CPU and memory share the steps left before the confirmation; CPU takes the odd one. */
function phaseBudgets(maxSteps: number): { cpu: number; memory: number } {
  const searching = Math.max(0, maxSteps - 1);
  return { cpu: Math.ceil(searching / 2), memory: Math.floor(searching / 2) };
}

function roundTo(value: number, step: number): number {
  return Math.max(step, Math.round(value / step) * step);
}

/** The next size to try in a bracket, or null when it is narrow enough or the next one repeats. */
function bisect(bracket: Bracket, resolution: number, step: number): number | null {
  if (bracket.passing <= bracket.failing * (1 + resolution)) return null;
  const middle = roundTo(Math.sqrt(bracket.passing * bracket.failing), step);
  if (middle >= bracket.passing || middle <= bracket.failing) return null;
  return middle;
}

/** What to try next, or null when the experiment is complete. */
export function nextTrial(plan: SearchPlan, verdicts: readonly TrialVerdict[]): Trial | null {
  if (verdicts.length >= plan.maxSteps) return null;
  const budgets = phaseBudgets(plan.maxSteps);
  const cpu = bracketOf(plan, verdicts, "cpu");
  if (cpu.steps < budgets.cpu) {
    const next = bisect(cpu, plan.resolution, CPU_STEP_MILLICORES);
    if (next !== null) return { phase: "cpu", size: { ...plan.declared, cpuMillicores: next } };
  }
  const memory = bracketOf(plan, verdicts, "memory");
  if (memory.steps < budgets.memory) {
    const next = bisect(memory, plan.resolution, MEMORY_STEP_BYTES);
    if (next !== null) return { phase: "memory", size: { ...plan.declared, memoryBytes: next } };
  }
  if (verdicts.some((verdict) => verdict.phase === "confirm")) return null;
  const recommended = recommendation(plan, verdicts).size;
  const smaller =
    recommended.cpuMillicores < plan.declared.cpuMillicores ||
    recommended.memoryBytes < plan.declared.memoryBytes;
  return smaller ? { phase: "confirm", size: recommended } : null;
}

/**
 * A copy that uses nearly all of its CPU limit has no room for a burst: it meets its SLOs in this
 * window only until the load wobbles. Its usage per second (p90, as VPA reads usage) at or above
 * this share of the limit fails the step, so the proven minimum never lies below the real use.
 */
export const SATURATED_SHARE = 0.9;

/** Why a copy was saturated at its CPU limit, or null when it had room */
export function cpuSaturation(limitMillicores: number, usedPerSecond: readonly number[]): string | null {
  if (usedPerSecond.length === 0) return null;
  const used = percentile(usedPerSecond, VPA_CPU_PERCENTILE);
  if (used < SATURATED_SHARE * limitMillicores) return null;
  return `saturated: it used ${Math.round(used)}m of its ${limitMillicores}m CPU limit (p90 per second), no room left for a burst`;
}

export interface Recommendation {
  /** The smallest sizes that passed; the declared ones where nothing smaller did */
  provenMinimum: Size;
  /** The proven minimum plus the margin, never above the declared size */
  size: Size;
  /** Whether a trial at `size` passed; null before the confirmation ran */
  confirmed: boolean | null;
  /** Why the recommendation is the declared size after all, when it is */
  note: string | null;
}

export function recommendation(plan: SearchPlan, verdicts: readonly TrialVerdict[]): Recommendation {
  const provenMinimum: Size = {
    cpuMillicores: bracketOf(plan, verdicts, "cpu").passing,
    memoryBytes: bracketOf(plan, verdicts, "memory").passing,
  };
  const withMargin: Size = {
    cpuMillicores: Math.min(
      plan.declared.cpuMillicores,
      roundUpTo(provenMinimum.cpuMillicores * (1 + plan.margin), CPU_STEP_MILLICORES),
    ),
    memoryBytes: Math.min(
      plan.declared.memoryBytes,
      roundUpTo(provenMinimum.memoryBytes * (1 + plan.margin), MEMORY_STEP_BYTES),
    ),
  };
  const confirmation = verdicts.find((verdict) => verdict.phase === "confirm");
  if (confirmation === undefined) return { provenMinimum, size: withMargin, confirmed: null, note: null };
  if (confirmation.passed) return { provenMinimum, size: withMargin, confirmed: true, note: null };
  return {
    provenMinimum,
    size: plan.declared,
    confirmed: false,
    note: `both limits together at ${formatSize(withMargin)} failed (${confirmation.reason}), so the declared size stays`,
  };
}

function roundUpTo(value: number, step: number): number {
  return Math.max(step, Math.ceil(value / step) * step);
}

export interface UsageSamples {
  /** CPU use of the reference, in millicores, one per sampling interval */
  cpuMillicores: readonly number[];
  /** Resident memory of the reference, one per sampling interval */
  memoryBytes: readonly number[];
  /** OOM kills seen during the experiment at the declared size */
  oomKills: number;
}

/** VPA's recommender: the target is a percentile of usage plus a safety margin. */
export const VPA_CPU_PERCENTILE = 0.9;
export const VPA_SAFETY_MARGIN = 0.15;
/** After an OOM kill, VPA asks for at least 20% or 100 MiB more than the memory seen then */
const VPA_OOM_BUMP_RATIO = 1.2;
const VPA_OOM_MIN_BUMP_BYTES = 100 * MEBIBYTE;

/** What usage alone recommends; null where no sample was taken. */
export function usageRecommendation(samples: UsageSamples): Size | null {
  if (samples.cpuMillicores.length === 0 || samples.memoryBytes.length === 0) return null;
  const cpu = percentile(samples.cpuMillicores, VPA_CPU_PERCENTILE) * (1 + VPA_SAFETY_MARGIN);
  const peak = Math.max(...samples.memoryBytes);
  let memory = peak * (1 + VPA_SAFETY_MARGIN);
  if (samples.oomKills > 0)
    memory = Math.max(memory, peak * VPA_OOM_BUMP_RATIO, peak + VPA_OOM_MIN_BUMP_BYTES);
  return {
    cpuMillicores: roundUpTo(cpu, CPU_STEP_MILLICORES),
    memoryBytes: roundUpTo(memory, MEMORY_STEP_BYTES),
  };
}

/** The nearest-rank percentile */
function percentile(values: readonly number[], quantile: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(quantile * sorted.length));
  return sorted[rank - 1] ?? 0;
}

export interface Saving {
  cpuMillicores: number;
  cpuPct: number;
  memoryBytes: number;
  memoryPct: number;
}

export function savingAgainst(declared: Size, recommended: Size): Saving {
  const pct = (saved: number, of: number) => (of === 0 ? 0 : Math.round((1000 * saved) / of) / 10);
  const cpu = declared.cpuMillicores - recommended.cpuMillicores;
  const memory = declared.memoryBytes - recommended.memoryBytes;
  return {
    cpuMillicores: cpu,
    cpuPct: pct(cpu, declared.cpuMillicores),
    memoryBytes: memory,
    memoryPct: pct(memory, declared.memoryBytes),
  };
}

/** As waybill.yaml writes a CPU limit: whole cores as "1", else millicores as "250m". */
export function formatCpu(millicores: number): string {
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

/** As waybill.yaml writes a memory limit: "1Gi" when whole, else "300Mi". */
export function formatMemory(bytes: number): string {
  const mebibytes = Math.ceil(bytes / MEBIBYTE);
  return mebibytes % 1024 === 0 ? `${mebibytes / 1024}Gi` : `${mebibytes}Mi`;
}

export function formatSize(size: Size): string {
  return `cpu ${formatCpu(size.cpuMillicores)}, memory ${formatMemory(size.memoryBytes)}`;
}
