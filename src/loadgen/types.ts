/** What a load run is asked to do and what it reports. */

export interface LoadRequest {
  method: string;
  /** Path with optional query string, starting with "/" */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Relative share of the mix; 1 when left out */
  weight?: number;
}

export interface LoadOptions {
  /** Base URL, http://host[:port]; request paths are appended to it */
  target: string;
  /** open: a constant arrival rate; closed: each connection sends back to back. Default open. */
  model?: "open" | "closed";
  /** Arrivals per second in the open model (default 50); the closed model ignores it */
  rate?: number;
  /** Length of the measured part of the run */
  durationMs: number;
  /** Requests scheduled (open) or sent (closed) during this lead-in are not reported. Default 0. */
  warmupMs?: number;
  /** Upper bound on open connections. Default 10. */
  connections?: number;
  /**
   * Threads that generate the load, each with its own share of the connections (so at most
   * `connections`) and, in the open model, every workers-th arrival of the one schedule.
   * Default 1: one thread carries tens of thousands of requests a second, and each more one
   * takes a core from the service under test on the same machine. Only `runLoad` from
   * `index.ts` uses it; the generator run on the caller's thread is always one.
   */
  workers?: number;
  /** Upper bound on requests sent, warm-up included; the run ends early once they are all answered */
  maxRequests?: number;
  /**
   * A request still unanswered this long after its latency origin (scheduled time in the open
   * model, send time in the closed model) counts as a timeout error. Default 5000.
   */
  timeoutMs?: number;
  /** Default: one `GET /` */
  requests?: LoadRequest[];
  /** Seed of the random choice among weighted requests, so a mix is reproducible. Default 1. */
  seed?: number;
  /**
   * Drives several sides at once (a live release and its candidate): arrivals come in blocks of
   * one request from the mix per side, sent to the sides in a random order, so every side gets
   * the same rate, the same mix and the same moments. `rate`, `connections` and `maxRequests`
   * are then per side. Each side's results and latency samples are reported apart.
   */
  sides?: LoadSide[];
}

/** Where a run stands, reported about once a second while it goes on */
export interface LoadProgress {
  elapsedMs: number;
  /** Requests sent so far, warm-up included */
  sent: number;
  /** Measured requests that finished, and how many of them failed */
  finished: number;
  errors: number;
  /** p95 of the measured answers so far, ms; null before the first */
  p95Ms: number | null;
}

export interface LoadSide {
  name: string;
  /** Added to every request of this side, e.g. the proxy's pin header */
  headers: Record<string, string>;
  /**
   * Another server for this side's requests (an http:// origin; open model only), reached on
   * connections of its own, e.g. an app's own port beside the proxy in front of it
   */
  target?: string;
}

export interface SideResult extends EndpointResult {
  /** This side's share of each endpoint, keyed "<METHOD> <path>" */
  endpoints: Record<string, EndpointResult>;
  /**
   * Every measured answer's latency in ms, in the order they came; past MAX_SIDE_SAMPLES a
   * uniform random sample (reservoir) of them
   */
  latencySamplesMs: number[];
}

/** Latency percentiles in milliseconds, at microsecond resolution; all 0 when nothing was answered */
export interface LatencySummary {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface EndpointResult {
  /** Measured requests, failed ones included */
  requests: number;
  /** Network failures, timeouts and 5xx answers */
  errors: number;
  /** Answered requests (any status) per measured second */
  throughput: number;
  /** Over answered requests (any status); failures and timeouts have no latency */
  latency: LatencySummary;
}

export interface LoadResult extends EndpointResult {
  /** Keyed "<METHOD> <path>" */
  endpoints: Record<string, EndpointResult>;
  /** How well the generator itself kept time; a late generator makes the result say nothing */
  generator: GeneratorTiming;
  /** Per side, keyed by side name, when the run had `sides` */
  sides?: Record<string, SideResult>;
}

/**
 * The generator's own lateness, apart from the service's: how long its event loop was held up
 * (a heartbeat firing late) during the measured window. Time the generator was stalled turns
 * into latency and timeouts it would charge to the service, so past a bound the result is
 * inconclusive rather than the service's.
 */
export interface GeneratorTiming {
  /** Sum of the heartbeat's lateness beyond the stall threshold, in ms */
  stalledMs: number;
  /** The longest single stall, in ms */
  maxStallMs: number;
  /** Why the result cannot be charged to the service; null when the generator kept its rate */
  inconclusive: string | null;
}
