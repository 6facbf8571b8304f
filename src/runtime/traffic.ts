/**
 * Per-instance request accounting for one stage proxy. Everything the proxy learns about a
 * request's outcome goes through here: the counters for draining and `stats()`, the cumulative
 * series behind /metrics, and the traffic windows the test and canary tasks measure over.
 */
import { performance } from "node:perf_hooks";
import { build, type Histogram } from "hdr-histogram-js";
import type { InstanceTraffic, RequestStats, TrafficWindow } from "./types.js";

export interface RequestOutcome {
  /** The upstream status, when a response head arrived */
  status: number | null;
  /** The upstream failed: no connection, or the response broke off */
  upstreamFailed: boolean;
}

/** One proxied request; finish it exactly once. */
export interface RequestTally {
  finish(outcome: RequestOutcome): void;
}

/** `error`: no complete answer, because the upstream failed or the client left before any came. */
export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "error";
export const STATUS_CLASSES: readonly StatusClass[] = ["2xx", "3xx", "4xx", "5xx", "error"];

/** Upper bounds of the /metrics duration histogram, in seconds: 1 ms to 10 s */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** A window keeps this many of each instance's most recent latencies as raw samples. */
export const MAX_LATENCY_SAMPLES = 20_000;

/** Cumulative since the meter first saw the instance, in Prometheus' terms. */
export interface InstanceMetrics {
  instanceId: string;
  version: string;
  requestsByClass: Record<StatusClass, number>;
  inFlight: number;
  duration: {
    /** Cumulative counts, one per DURATION_BUCKETS_SECONDS bound (the +Inf bucket is `count`) */
    bucketCounts: number[];
    count: number;
    sumSeconds: number;
  };
}

export function statusClassOf(outcome: RequestOutcome): StatusClass {
  if (outcome.upstreamFailed || outcome.status === null) return "error";
  if (outcome.status >= 500) return "5xx";
  if (outcome.status >= 400) return "4xx";
  if (outcome.status >= 300) return "3xx";
  return "2xx";
}

export function emptyInstanceMetrics(instanceId: string, version: string): InstanceMetrics {
  return {
    instanceId,
    version,
    requestsByClass: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, error: 0 },
    inFlight: 0,
    duration: { bucketCounts: DURATION_BUCKETS_SECONDS.map(() => 0), count: 0, sumSeconds: 0 },
  };
}

const isError = (statusClass: StatusClass): boolean => statusClass === "5xx" || statusClass === "error";

interface FinishedRequest {
  instanceId: string;
  version: string;
  statusClass: StatusClass;
  finishedAtMs: number;
  latencyMs: number;
}

interface InstanceCounters {
  requests: number;
  errors: number;
  metrics: InstanceMetrics;
  idleWaiters: Array<() => void>;
}

/**
 * One request from `begin` to `finish`, and then the finished request the windows record: a
 * single object per request, since the meter is on every one.
 */
class Tally implements RequestTally, FinishedRequest {
  statusClass: StatusClass = "error";
  finishedAtMs = 0;
  latencyMs = 0;
  private readonly startedAtMs: number;
  private finished = false;

  constructor(
    private readonly clock: () => number,
    private readonly openWindows: ReadonlySet<MeterWindow>,
    private readonly counters: InstanceCounters,
    readonly instanceId: string,
    readonly version: string,
  ) {
    this.startedAtMs = clock();
  }

  finish(outcome: RequestOutcome): void {
    if (this.finished) return;
    this.finished = true;
    const { counters } = this;
    this.finishedAtMs = this.clock();
    this.statusClass = statusClassOf(outcome);
    this.latencyMs = Math.max(0, this.finishedAtMs - this.startedAtMs);
    if (isError(this.statusClass)) counters.errors += 1;
    recordInMetrics(counters.metrics, this.statusClass, this.latencyMs);
    for (const window of this.openWindows) window.record(this);
    counters.metrics.inFlight -= 1;
    if (counters.metrics.inFlight === 0 && counters.idleWaiters.length > 0) {
      for (const wake of counters.idleWaiters.splice(0)) wake();
    }
  }
}

export class TrafficMeter {
  private readonly counters = new Map<string, InstanceCounters>();
  private readonly openWindows = new Set<MeterWindow>();

  /** `clock` is monotonic milliseconds; tests pass their own. */
  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Called when the proxy has the request's head, so latency includes all of the upstream's time. */
  begin(instanceId: string, version: string): RequestTally {
    const counters = this.countersFor(instanceId, version);
    counters.requests += 1;
    counters.metrics.inFlight += 1;
    return new Tally(this.clock, this.openWindows, counters, instanceId, version);
  }

  /**
   * Starts recording every request that finishes from now on, until the window is closed.
   * Windows are independent: any number may be open at once.
   */
  openWindow(): TrafficWindow {
    const window = new MeterWindow(this.clock);
    this.openWindows.add(window);
    return {
      read: () => window.read(),
      close: () => {
        window.close();
        this.openWindows.delete(window);
      },
    };
  }

  /** Resolves true once no request to the instance is in flight, or false after timeoutMs. */
  whenIdle(instanceId: string, timeoutMs: number): Promise<boolean> {
    const counters = this.counters.get(instanceId);
    if (counters === undefined || counters.metrics.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        counters.idleWaiters = counters.idleWaiters.filter((waiter) => waiter !== wake);
        resolve(false);
      }, timeoutMs);
      counters.idleWaiters.push(wake);
    });
  }

  snapshot(): Record<string, RequestStats> {
    const result: Record<string, RequestStats> = {};
    for (const [instanceId, { requests, errors, metrics }] of this.counters) {
      result[instanceId] = { requests, errors, inFlight: metrics.inFlight };
    }
    return result;
  }

  metrics(): InstanceMetrics[] {
    return [...this.counters.values()].map(({ metrics }) => structuredClone(metrics));
  }

  /** Drops a stopped instance's counters so they do not accumulate over many deployments. */
  forget(instanceId: string): void {
    const counters = this.counters.get(instanceId);
    if (counters === undefined) return;
    for (const wake of counters.idleWaiters.splice(0)) wake();
    this.counters.delete(instanceId);
  }

  private countersFor(instanceId: string, version: string): InstanceCounters {
    let counters = this.counters.get(instanceId);
    if (counters === undefined) {
      counters = {
        requests: 0,
        errors: 0,
        metrics: emptyInstanceMetrics(instanceId, version),
        idleWaiters: [],
      };
      this.counters.set(instanceId, counters);
    }
    return counters;
  }
}

function recordInMetrics(metrics: InstanceMetrics, statusClass: StatusClass, latencyMs: number): void {
  metrics.requestsByClass[statusClass] += 1;
  const seconds = latencyMs / 1000;
  const { duration } = metrics;
  duration.count += 1;
  duration.sumSeconds += seconds;
  const { bucketCounts } = duration;
  // Bounds ascend: from the first that holds the latency, every later one does too.
  let index = 0;
  while (index < DURATION_BUCKETS_SECONDS.length && seconds > (DURATION_BUCKETS_SECONDS[index] as number))
    index += 1;
  for (; index < bucketCounts.length; index += 1) bucketCounts[index] = (bucketCounts[index] as number) + 1;
}

/** Keeps the most recent `capacity` values, overwriting the oldest. */
class RecentValues {
  private readonly values: number[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  push(value: number): void {
    if (this.values.length < this.capacity) this.values.push(value);
    else this.values[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first */
  toArray(): number[] {
    if (this.values.length < this.capacity) return [...this.values];
    return [...this.values.slice(this.next), ...this.values.slice(0, this.next)];
  }
}

interface WindowCounts {
  version: string;
  requests: number;
  errors: number;
  /** Microseconds, so sub-millisecond answers keep their resolution */
  latencyMicros: Histogram;
  recentLatenciesMs: RecentValues;
  /** Keyed by whole seconds since the window opened */
  perSecond: Map<number, { requests: number; errors: number }>;
}

class MeterWindow {
  private readonly openedAtMs: number;
  private closedAtMs: number | null = null;
  private readonly instances = new Map<string, WindowCounts>();

  constructor(private readonly clock: () => number) {
    this.openedAtMs = clock();
  }

  record(request: FinishedRequest): void {
    let counts = this.instances.get(request.instanceId);
    if (counts === undefined) {
      counts = {
        version: request.version,
        requests: 0,
        errors: 0,
        latencyMicros: build({
          lowestDiscernibleValue: 1,
          highestTrackableValue: 60_000_000,
          numberOfSignificantValueDigits: 3,
          autoResize: true,
        }),
        recentLatenciesMs: new RecentValues(MAX_LATENCY_SAMPLES),
        perSecond: new Map(),
      };
      this.instances.set(request.instanceId, counts);
    }
    const failed = isError(request.statusClass);
    counts.version = request.version;
    counts.requests += 1;
    if (failed) counts.errors += 1;
    counts.latencyMicros.recordValue(Math.round(request.latencyMs * 1000));
    counts.recentLatenciesMs.push(request.latencyMs);
    const second = Math.floor((request.finishedAtMs - this.openedAtMs) / 1000);
    let bucket = counts.perSecond.get(second);
    if (bucket === undefined) {
      bucket = { requests: 0, errors: 0 };
      counts.perSecond.set(second, bucket);
    }
    bucket.requests += 1;
    if (failed) bucket.errors += 1;
  }

  close(): void {
    this.closedAtMs ??= this.clock();
  }

  read(): Record<string, InstanceTraffic> {
    // The second still running (or cut off by close) has too few requests to be a fair sample.
    const wholeSeconds = Math.floor(((this.closedAtMs ?? this.clock()) - this.openedAtMs) / 1000);
    const result: Record<string, InstanceTraffic> = {};
    for (const [instanceId, counts] of this.instances) {
      const max = counts.latencyMicros.maxValue / 1000;
      // A percentile is its bucket's upper end, which may lie past the exact maximum.
      const atPercentile = (percentile: number): number =>
        Math.min(max, counts.latencyMicros.getValueAtPercentile(percentile) / 1000);
      result[instanceId] = {
        instanceId,
        version: counts.version,
        requests: counts.requests,
        errors: counts.errors,
        latency: {
          p50: atPercentile(50),
          p90: atPercentile(90),
          p95: atPercentile(95),
          p99: atPercentile(99),
          max,
        },
        latencySamplesMs: counts.recentLatenciesMs.toArray(),
        errorRatePerSecond: [...counts.perSecond.entries()]
          .filter(([second]) => second < wholeSeconds)
          .sort(([a], [b]) => a - b)
          .map(([, { requests, errors }]) => (100 * errors) / requests),
      };
    }
    return result;
  }
}
