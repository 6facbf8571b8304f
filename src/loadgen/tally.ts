/** Counts and latency histograms for one endpoint or the whole run. */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from "hdr-histogram-js";
import type { EndpointResult, LatencySummary } from "./types.js";

// Microseconds. The histogram resizes itself past this; it is only the starting size.
const initialHighestMicros = 60 * 1_000_000;

/** A tally as plain data, to cross from a worker thread; the histogram's counts are all kept */
export interface TallyData {
  requests: number;
  errors: number;
  answered: number;
  /** HdrHistogram's compressed V2 encoding, base64 */
  latencyMicros: string;
  maxMicros: number;
}

export class Tally {
  requests = 0;
  errors = 0;
  answered = 0;
  /**
   * Kept apart because a histogram that others were added into reports its maximum rounded up
   * to its bucket's top, and the sum of tallies must say what one tally would have
   */
  private maxMicros = 0;
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
    const micros = Math.max(0, Math.round(latencyMs * 1000));
    if (micros > this.maxMicros) this.maxMicros = micros;
    this.latencyMicros.recordValue(micros);
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
      sum.maxMicros = Math.max(sum.maxMicros, tally.maxMicros);
      sum.latencyMicros.add(tally.latencyMicros);
    }
    return sum;
  }

  toData(): TallyData {
    return {
      requests: this.requests,
      errors: this.errors,
      answered: this.answered,
      latencyMicros: encodeIntoCompressedBase64(this.latencyMicros),
      maxMicros: this.maxMicros,
    };
  }

  /** The exact sum of tallies kept apart (one per worker): counts add, histograms add bucket by bucket */
  static fromData(parts: readonly TallyData[]): Tally {
    const sum = new Tally();
    for (const part of parts) {
      sum.requests += part.requests;
      sum.errors += part.errors;
      sum.answered += part.answered;
      sum.maxMicros = Math.max(sum.maxMicros, part.maxMicros);
      if (part.answered > 0) sum.latencyMicros.add(decodeFromCompressedBase64(part.latencyMicros));
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
      max: this.maxMicros / 1000,
    };
  }
}

function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
