/** Counts and latency histograms for one endpoint or the whole run. */
import { build, type Histogram } from "hdr-histogram-js";
import type { EndpointResult, LatencySummary } from "./types.js";

// Microseconds. The histogram resizes itself past this; it is only the starting size.
const initialHighestMicros = 60 * 1_000_000;

export class Tally {
  requests = 0;
  errors = 0;
  answered = 0;
  private readonly latencyMicros: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: initialHighestMicros,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  recordAnswer(latencyMs: number, isServerError: boolean): void {
    this.requests++;
    this.answered++;
    if (isServerError) this.errors++;
    this.latencyMicros.recordValue(Math.max(0, Math.round(latencyMs * 1000)));
  }

  recordFailure(): void {
    this.requests++;
    this.errors++;
  }

  /** The sum of several tallies; cheaper than recording every request twice */
  static combined(tallies: Tally[]): Tally {
    const sum = new Tally();
    for (const tally of tallies) {
      sum.requests += tally.requests;
      sum.errors += tally.errors;
      sum.answered += tally.answered;
      sum.latencyMicros.add(tally.latencyMicros);
    }
    return sum;
  }

  summary(measuredSeconds: number): EndpointResult {
    return {
      requests: this.requests,
      errors: this.errors,
      throughput: measuredSeconds > 0 ? roundTo(this.answered / measuredSeconds, 3) : 0,
      latency: this.latencySummary(),
    };
  }

  private latencySummary(): LatencySummary {
    if (this.answered === 0) return { p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
    const atPercentile = (percentile: number) => this.latencyMicros.getValueAtPercentile(percentile) / 1000;
    return {
      p50: atPercentile(50),
      p90: atPercentile(90),
      p95: atPercentile(95),
      p99: atPercentile(99),
      max: this.latencyMicros.maxValue / 1000,
    };
  }
}

function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
