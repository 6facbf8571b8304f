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

/**
 * HdrHistogram's layout at 3 significant digits and a 1 µs unit: bucket 0 holds 0…2047 µs one
 * by one; bucket b > 0 holds twice the range at twice the width, in the 1024 slots after the
 * previous bucket's. Value v sits in slot b·1024 + (v >> b).
 */
const halfMagnitude = 10;
const half = 1 << halfMagnitude;
const subBucketMask = 2 * half - 1;
/** Values below 2^32 µs (71 minutes) fit buckets 0…21; anything longer goes to the histogram itself */
const pendingSlots = (32 - halfMagnitude + 1) * half;

/**
 * Counts recorded since the histogram last took them, in the histogram's own slots.
 * `Histogram.recordValue` finds a value's bucket with floating-point log2 and pow, several
 * times the cost of the rest of a request's bookkeeping; this does it with integer bit
 * operations, and hands the histogram each slot's count in one call when it is next read.
 * Exact: a slot is recorded as its lowest value, which falls in the same slot.
 */
class PendingCounts {
  /** Allocated at the first value: most tallies (sums, merges) never record one */
  private counts: Uint32Array | null = null;
  private used = false;

  /** False for a value too large to count here */
  record(micros: number): boolean {
    if (micros > 0xffffffff) return false;
    const bucket = 31 - Math.clz32(micros | subBucketMask) - halfMagnitude;
    this.counts ??= new Uint32Array(pendingSlots);
    (this.counts[(bucket << halfMagnitude) + (micros >>> bucket)] as number)++;
    this.used = true;
    return true;
  }

  drainInto(histogram: Histogram): void {
    const counts = this.counts;
    if (!this.used || counts === null) return;
    this.used = false;
    for (let slot = 0; slot < pendingSlots; slot++) {
      const count = counts[slot] as number;
      if (count === 0) continue;
      counts[slot] = 0;
      const lowest =
        slot <= subBucketMask ? slot : ((slot & (half - 1)) + half) * 2 ** ((slot >>> halfMagnitude) - 1);
      histogram.recordValueWithCount(lowest, count);
    }
  }
}

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
  private readonly pending = new PendingCounts();

  recordAnswer(latencyMs: number, isServerError: boolean): void {
    this.requests++;
    this.answered++;
    if (isServerError) this.errors++;
    const micros = Math.max(0, Math.round(latencyMs * 1000));
    if (micros > this.maxMicros) this.maxMicros = micros;
    if (!this.pending.record(micros)) this.latencyMicros.recordValue(micros);
  }

  /** The histogram with every recorded value in it */
  private get histogram(): Histogram {
    this.pending.drainInto(this.latencyMicros);
    return this.latencyMicros;
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
      sum.latencyMicros.add(tally.histogram);
    }
    return sum;
  }

  toData(): TallyData {
    return {
      requests: this.requests,
      errors: this.errors,
      answered: this.answered,
      latencyMicros: encodeIntoCompressedBase64(this.histogram),
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
    const histogram = this.histogram;
    const atPercentile = (percentile: number) => histogram.getValueAtPercentile(percentile) / 1000;
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
