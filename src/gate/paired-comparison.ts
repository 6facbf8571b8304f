/**
 * The pipeline's significance layer over Keptn's relative criteria. Keptn compares one value
 * with a baseline value; on a busy machine the run-to-run noise is as large as the regressions
 * the gate must catch. So a relative criterion is decided on evidence instead:
 *
 * - With a concurrent baseline (both versions under the same load, interleaved request by
 *   request), on the per-request latency samples of both sides: the canary judge's Mann-Whitney
 *   test and Hodges-Lehmann interval for the typical request's change, and, for a percentile
 *   SLI, a distribution-free interval for the change of that percentile. The criterion is
 *   violated when either interval lies wholly past its bound (so a regression of the tail alone
 *   is caught once it is significant), holds when the typical interval lies within it, and is
 *   undecided when that interval straddles it (the test task then measures further windows).
 *   A percentile's interval is far wider than the typical one at the same sample size, so it
 *   can prove a regression but is not asked to prove its absence.
 * - With only earlier results, by the spread of those results: a value past the Keptn target by
 *   less than the run-to-run noise is not called a regression (`decideWithinNoise`).
 *
 * Keptn's scoring is untouched: these decisions only say whether a relative criterion holds.
 */
import { parseCriteria, type Criterion } from "./criteria.js";
import { standardNormalQuantile, wilcoxonRankSumTest } from "./statistics.js";

export type RelativeDecision = "holds" | "violated" | "undecided";
type RelativeCriterion = Extract<Criterion, { kind: "relative" }>;

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

export interface PairedJudgement {
  sli: string;
  criteria: string;
  samples: { baseline: number; candidate: number };
  /** Percent criteria compare ratios candidate/baseline; others, shifts in the SLI's unit */
  unit: "ratio" | "shift";
  /** The ratio or shift the criterion allows */
  bound: number;
  /** Hodges-Lehmann: the typical request's ratio (or shift), with its interval */
  typical: Interval;
  /** The SLI's own percentile, as a ratio (or shift), where the SLI is a percentile */
  percentile: Interval | null;
  decision: RelativeDecision;
  reason: string;
}

export const PAIRED_CONFIDENCE = 0.95;
/** Fewer samples than this per side say too little to decide on */
export const MIN_PAIRED_SAMPLES = 20;
/** Latencies are compared on a log scale; a 0 ms answer is taken as 1 µs */
const SMALLEST_LATENCY_MS = 0.001;

/** The quantile a built-in latency SLI reports (latency_p95 → 0.95, latency_max → 1), or null. */
export function latencyQuantile(sli: string): number | null {
  if (sli === "latency_max") return 1;
  const match = /^latency_p(\d{1,2})$/.exec(sli);
  return match === null ? null : Number(match[1]) / 100;
}

/** Decides one relative criterion of a latency SLI on both sides' per-request samples. */
export function judgePaired(input: {
  sli: string;
  criteria: string;
  criterion: RelativeCriterion;
  baseline: readonly number[];
  candidate: readonly number[];
  confidence?: number;
}): PairedJudgement {
  const { sli, criteria, criterion, baseline, candidate } = input;
  const confidence = input.confidence ?? PAIRED_CONFIDENCE;
  const unit = criterion.percent ? "ratio" : "shift";
  const bound = allowedChange(criterion);
  const samples = { baseline: baseline.length, candidate: candidate.length };
  const base = { sli, criteria, samples, unit, bound } as const;
  if (baseline.length < MIN_PAIRED_SAMPLES || candidate.length < MIN_PAIRED_SAMPLES) {
    const none = { estimate: Number.NaN, low: Number.NaN, high: Number.NaN };
    return {
      ...base,
      typical: none,
      percentile: null,
      decision: "undecided",
      reason: `too few samples to decide (${baseline.length} baseline, ${candidate.length} candidate; ${MIN_PAIRED_SAMPLES} each are needed)`,
    };
  }
  const typical = typicalChange(baseline, candidate, unit, confidence);
  const quantile = latencyQuantile(sli);
  const percentile =
    quantile === null || quantile >= 1
      ? null
      : percentileChange(baseline, candidate, quantile, unit, confidence);
  const intervals = percentile === null ? [typical] : [typical, percentile];
  const past = (interval: Interval) =>
    worseIsHigher(criterion) ? interval.low > bound : interval.high < bound;
  const within = (interval: Interval) =>
    worseIsHigher(criterion) ? interval.high <= bound : interval.low >= bound;
  const shown = `${describe("typical", typical, unit)}${percentile === null ? "" : `, ${describe(sli, percentile, unit)}`}`;
  const limit = `the bound ${formatChange(bound, unit)}`;
  if (intervals.some(past)) {
    return {
      ...base,
      typical,
      percentile,
      decision: "violated",
      reason: `significantly past ${limit}: ${shown}`,
    };
  }
  if (within(typical)) {
    return { ...base, typical, percentile, decision: "holds", reason: `within ${limit}: ${shown}` };
  }
  return {
    ...base,
    typical,
    percentile,
    decision: "undecided",
    reason: `inconclusive: an interval straddles ${limit}: ${shown}`,
  };
}

/**
 * History only: a value past Keptn's target is a regression only when it is past it by more than
 * the earlier values' spread (three robust standard deviations: 1.4826 × their median absolute
 * deviation). Inside that spread it is undecided, a warning: not called a regression, and not
 * let through as a pass either, since the noise that hides a false alarm hides a real one too.
 * The allowance never exceeds the criterion's own margin (past `<=+10%` by more than another 10%
 * is always a regression), so a noisy history cannot wave a large regression through. With fewer
 * than three earlier values there is no spread to go by.
 */
export function decideWithinNoise(input: {
  criterion: RelativeCriterion;
  measured: number;
  target: number;
  /** The aggregate of the earlier results the target was set from */
  baseline: number;
  earlier: readonly number[];
}): { decision: RelativeDecision; spread: number | null; reason: string } {
  const { criterion, measured, target, baseline, earlier } = input;
  const spread = earlier.length >= 3 ? 1.4826 * medianAbsoluteDeviation(earlier) : null;
  const holds = worseIsHigher(criterion) ? measured <= target : measured >= target;
  if (holds) {
    const noise = spread === null ? "" : ` (run-to-run spread ±${round(3 * spread)})`;
    return { decision: "holds", spread, reason: `within the target${noise}` };
  }
  if (spread === null) {
    return {
      decision: "violated",
      spread,
      reason: "past the target, with too few earlier results to know their spread",
    };
  }
  const allowance = Math.min(3 * spread, Math.abs(target - baseline));
  const beyond = worseIsHigher(criterion) ? measured - target : target - measured;
  if (beyond <= allowance) {
    return {
      decision: "undecided",
      spread,
      reason: `past the target by ${round(beyond)}, inside the run-to-run noise of the earlier results (±${round(allowance)}: 3 × robust spread of ${earlier.length}, at most the criterion's margin), so not called a regression`,
    };
  }
  return {
    decision: "violated",
    spread,
    reason: `past the target by ${round(beyond)}, beyond the run-to-run noise (±${round(allowance)})`,
  };
}

export function medianAbsoluteDeviation(values: readonly number[]): number {
  const center = median(values);
  return median(values.map((value) => Math.abs(value - center)));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `<=+10%` allows the ratio 1.1; `>=-5%` requires at least 0.95; `<=+20` allows a shift of 20. */
function allowedChange(criterion: RelativeCriterion): number {
  const sign = criterion.direction === "increase" ? 1 : -1;
  return criterion.percent ? 1 + (sign * criterion.change) / 100 : sign * criterion.change;
}

/** `<` and `<=` bound the value from above: a higher value is the worse one. */
function worseIsHigher(criterion: RelativeCriterion): boolean {
  return criterion.operator === "<" || criterion.operator === "<=" || criterion.operator === "=";
}

export function typicalChange(
  baseline: readonly number[],
  candidate: readonly number[],
  unit: "ratio" | "shift",
  confidence: number,
): Interval {
  if (unit === "shift") {
    const test = wilcoxonRankSumTest(candidate, baseline, { confidence });
    return { estimate: test.estimate, low: test.ci[0], high: test.ci[1] };
  }
  const test = wilcoxonRankSumTest(candidate.map(logLatency), baseline.map(logLatency), { confidence });
  if (Number.isNaN(test.estimate)) return { estimate: 1, low: 1, high: 1 };
  return { estimate: Math.exp(test.estimate), low: Math.exp(test.ci[0]), high: Math.exp(test.ci[1]) };
}

/**
 * Each side's quantile lies between two order statistics (the distribution-free binomial
 * interval); the difference of the two, on a log scale for a ratio, gets its interval by
 * recovering each side's variance from its own interval (Zou and Donner's MOVER method).
 */
export function percentileChange(
  baseline: readonly number[],
  candidate: readonly number[],
  quantile: number,
  unit: "ratio" | "shift",
  confidence: number,
): Interval {
  const scale = unit === "ratio" ? logLatency : (value: number) => value;
  const b = mapInterval(quantileInterval(baseline, quantile, confidence), scale);
  const c = mapInterval(quantileInterval(candidate, quantile, confidence), scale);
  const estimate = c.estimate - b.estimate;
  const low = estimate - Math.hypot(c.estimate - c.low, b.high - b.estimate);
  const high = estimate + Math.hypot(c.high - c.estimate, b.estimate - b.low);
  return unit === "ratio"
    ? { estimate: Math.exp(estimate), low: Math.exp(low), high: Math.exp(high) }
    : { estimate, low, high };
}

function mapInterval(interval: Interval, scale: (value: number) => number): Interval {
  return { estimate: scale(interval.estimate), low: scale(interval.low), high: scale(interval.high) };
}

function quantileInterval(values: readonly number[], quantile: number, confidence: number): Interval {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const z = standardNormalQuantile(1 - (1 - confidence) / 2);
  const center = n * quantile;
  const spread = z * Math.sqrt(n * quantile * (1 - quantile));
  const at = (rank: number) => sorted[Math.min(n - 1, Math.max(0, Math.round(rank) - 1))]!;
  return {
    estimate: at(Math.ceil(center)),
    low: at(Math.floor(center - spread)),
    high: at(Math.ceil(center + spread) + 1),
  };
}

function logLatency(ms: number): number {
  return Math.log(Math.max(ms, SMALLEST_LATENCY_MS));
}

function describe(what: string, interval: Interval, unit: "ratio" | "shift"): string {
  return `${what} ${formatChange(interval.estimate, unit)} [${formatChange(interval.low, unit)}, ${formatChange(interval.high, unit)}]`;
}

/** A ratio as a signed percentage change; a shift as a signed amount. */
export function formatChange(value: number, unit: "ratio" | "shift"): string {
  if (Number.isNaN(value)) return "n/a";
  const change = unit === "ratio" ? (value - 1) * 100 : value;
  return `${change >= 0 ? "+" : ""}${round(change)}${unit === "ratio" ? "%" : ""}`;
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** A relative criterion of a built-in latency SLI, which the per-request samples can decide. */
export interface PairedCriterion {
  sli: string;
  criteria: string;
  criterion: RelativeCriterion;
}

/** Every relative criterion (pass and warning) of the SLO's built-in latency objectives. */
export function pairedCriteriaOf(
  objectives: readonly { sli: string; pass?: { criteria: string[] }[]; warning?: { criteria: string[] }[] }[],
): PairedCriterion[] {
  const found: PairedCriterion[] = [];
  for (const objective of objectives) {
    if (latencyQuantile(objective.sli) === null) continue;
    for (const set of [...(objective.pass ?? []), ...(objective.warning ?? [])]) {
      for (const criteria of set.criteria) {
        const criterion = parseCriteria(criteria);
        if (criterion.kind !== "relative") continue;
        if (found.some((known) => known.sli === objective.sli && known.criteria === criteria)) continue;
        found.push({ sli: objective.sli, criteria, criterion });
      }
    }
  }
  return found;
}
