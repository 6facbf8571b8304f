/**
 * Compares two performance signatures (pure): which SLIs and endpoints moved most, by how
 * much, and whether the latency change is significant (it needs the request samples, which only
 * latency has). Each latency quantile is judged on its own quantile: a slower tail must not make
 * an unchanged median look significant.
 */
import { judgeMetric, type Classification } from "./canary-judge.js";
import { latencyQuantile, MIN_PAIRED_SAMPLES, percentileChange } from "./paired-comparison.js";

const SIGNIFICANCE_CONFIDENCE = 0.95;

export interface SignatureSide {
  label: string;
  values: Record<string, number | null>;
  latencySamplesMs: number[];
}

export interface SliChange {
  sli: string;
  a: number | null;
  b: number | null;
  absolute: number | null;
  /** (b − a) / |a| as a percentage; null when a is 0 or either side is missing */
  relativePct: number | null;
  /** The judge's verdict on the latency samples, for latency SLIs; null where it cannot judge */
  significant: boolean | null;
  classification: Classification | null;
}

export interface SignatureDiff {
  a: string;
  b: string;
  changes: SliChange[];
}

export function diffSignatures(a: SignatureSide, b: SignatureSide): SignatureDiff {
  const judgeLatency = latencyJudge(a.latencySamplesMs, b.latencySamplesMs);
  const names = [...new Set([...Object.keys(a.values), ...Object.keys(b.values)])];
  const changes = names.map((sli): SliChange => {
    const before = a.values[sli] ?? null;
    const after = b.values[sli] ?? null;
    const absolute = before === null || after === null ? null : after - before;
    const relativePct =
      absolute === null || before === 0 || before === null ? null : (absolute / Math.abs(before)) * 100;
    const judged = isOverallLatency(sli) ? judgeLatency(sli) : null;
    return {
      sli,
      a: before,
      b: after,
      absolute,
      relativePct,
      significant: judged === null || judged === "Nodata" ? null : judged !== "Pass",
      classification: judged,
    };
  });
  changes.sort((x, y) => movement(y) - movement(x) || x.sli.localeCompare(y.sli));
  return { a: a.label, b: b.label, changes };
}

/**
 * A quantile SLI (latency_p95) by the interval of its own quantile's change; the mean by the
 * judge's test of the whole distribution; the maximum, one sample, by nothing.
 */
function latencyJudge(a: readonly number[], b: readonly number[]): (sli: string) => Classification | null {
  if (a.length < MIN_PAIRED_SAMPLES || b.length < MIN_PAIRED_SAMPLES) return () => null;
  let distributionVerdict: Classification | undefined;
  return (sli) => {
    const quantile = latencyQuantile(sli);
    if (quantile === 1) return null;
    if (quantile === null) {
      distributionVerdict ??= judgeMetric(a, b, { direction: "either" }).classification;
      return distributionVerdict;
    }
    const change = percentileChange(a, b, quantile, "ratio", SIGNIFICANCE_CONFIDENCE);
    if (change.low > 1) return "High";
    if (change.high < 1) return "Low";
    return "Pass";
  };
}

/** Per-endpoint values have their own samples in no store, so only the overall ones are judged. */
function isOverallLatency(sli: string): boolean {
  return sli.startsWith("latency_") && !sli.includes(":");
}

/** Relative change ranks first; an SLI that appeared or vanished ranks above any number. */
function movement(change: SliChange): number {
  if (change.a === null || change.b === null) return change.a === change.b ? -1 : Number.MAX_VALUE;
  if (change.relativePct !== null) return Math.abs(change.relativePct);
  return change.absolute === 0 ? 0 : Number.MAX_VALUE / 2;
}
