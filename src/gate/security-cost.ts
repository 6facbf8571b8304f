/**
 * What mutual TLS adds, from the same load sent to the same instance through the plain path and
 * through the TLS path, interleaved request by request (the gate's paired method): the typical
 * request's added latency (the Hodges-Lehmann shift, with its interval) and the added p99 (the
 * difference of the two p99s, with its distribution-free interval), in ms. A third side straight
 * to the app's port splits the rest into the app's own latency and what the proxy adds. Pure.
 */
import {
  MIN_PAIRED_SAMPLES,
  PAIRED_CONFIDENCE,
  percentileChange,
  typicalChange,
  type Interval,
} from "./paired-comparison.js";

export interface SecurityCost {
  /**
   * Where the rest of the latency goes, from a third side sent straight to the app's own port:
   * the app's own p50 and p99, and what the stage proxy adds to them (ms, with intervals)
   */
  breakdown: { app: { p50: number; p99: number }; proxyAdded: { p50: Interval; p99: Interval } } | null;
  /** ms the typical request gained through TLS */
  addedP50: Interval;
  /** ms the p99 gained through TLS */
  addedP99: Interval;
  /** The TLS path's own p99, ms: what the added p99 is a share of */
  securedP99: number;
  samples: { plain: number; secured: number };
}

export function securityCost(
  plainMs: readonly number[],
  securedMs: readonly number[],
  directMs: readonly number[] = [],
): SecurityCost | null {
  if (plainMs.length < MIN_PAIRED_SAMPLES || securedMs.length < MIN_PAIRED_SAMPLES) return null;
  const sorted = [...securedMs].sort((a, b) => a - b);
  const direct = [...directMs].sort((a, b) => a - b);
  return {
    breakdown:
      direct.length < MIN_PAIRED_SAMPLES
        ? null
        : {
            app: { p50: quantile(direct, 0.5), p99: quantile(direct, 0.99) },
            proxyAdded: {
              p50: typicalChange(directMs, plainMs, "shift", PAIRED_CONFIDENCE),
              p99: percentileChange(directMs, plainMs, 0.99, "shift", PAIRED_CONFIDENCE),
            },
          },
    addedP50: typicalChange(plainMs, securedMs, "shift", PAIRED_CONFIDENCE),
    addedP99: percentileChange(plainMs, securedMs, 0.99, "shift", PAIRED_CONFIDENCE),
    securedP99: quantile(sorted, 0.99),
    samples: { plain: plainMs.length, secured: securedMs.length },
  };
}

/** The built-in SLIs an SLO can budget: `security_added_latency_p99: <=2`, or a share of end-to-end */
export function securitySlis(
  cost: SecurityCost,
  cpu: { seconds: number; securedRequests: number } | null,
): Record<string, number> {
  const addedP99 = tailCost(cost);
  const slis: Record<string, number> = {
    security_added_latency_p50: round(cost.addedP50.estimate),
    security_added_latency_p99: round(addedP99),
    security_latency_share_pct:
      cost.securedP99 > 0 ? round((100 * Math.max(0, addedP99)) / cost.securedP99) : 0,
  };
  if (cpu !== null && cpu.securedRequests > 0) {
    slis.security_cpu_per_1k_rps = round((1000 * cpu.seconds) / cpu.securedRequests);
  }
  return slis;
}

/**
 * The added p99, never below what the typical request gained: TLS puts its per-request work on
 * every request, the slowest included. Two p99s of a few hundred samples each differ by their
 * noise, which alone could make a real cost look like none and let a budget pass it.
 */
export function tailCost(cost: Pick<SecurityCost, "addedP50" | "addedP99">): number {
  return Math.max(cost.addedP99.estimate, cost.addedP50.estimate);
}

/** The nearest-rank quantile of sorted values */
function quantile(sorted: readonly number[], at: number): number {
  return sorted[Math.max(0, Math.ceil(at * sorted.length) - 1)] ?? 0;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
