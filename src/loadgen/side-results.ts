/**
 * One side's results over several windows of a paired run, as if it had been one run: counts
 * add up and throughput is over the whole time. The side's latency percentiles come from the
 * samples of every window (exact, nearest rank); an endpoint's, which has no samples of its own,
 * are the request-weighted mean of each window's.
 */
import type { EndpointResult, SideResult } from "./types.js";

export function mergeSideResults(windows: readonly SideResult[]): SideResult {
  if (windows.length === 1 && windows[0] !== undefined) return windows[0];
  const latencySamplesMs = windows.flatMap((window) => window.latencySamplesMs);
  const sorted = Float64Array.from(latencySamplesMs).sort();
  const at = (percentile: number) =>
    sorted.length === 0 ? 0 : (sorted[Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1)] ?? 0);
  const endpoints: Record<string, EndpointResult> = {};
  for (const name of new Set(windows.flatMap((window) => Object.keys(window.endpoints)))) {
    endpoints[name] = mergeEndpoint(windows.flatMap((window) => window.endpoints[name] ?? []));
  }
  return {
    ...mergeCounts(windows),
    latency: {
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p99: at(99),
      max: sorted.length === 0 ? 0 : (sorted.at(-1) ?? 0),
    },
    endpoints,
    latencySamplesMs,
  };
}

function mergeCounts(windows: readonly EndpointResult[]): Omit<EndpointResult, "latency"> {
  const throughput =
    windows.reduce((sum, window) => sum + window.throughput, 0) / Math.max(1, windows.length);
  return {
    requests: windows.reduce((sum, window) => sum + window.requests, 0),
    errors: windows.reduce((sum, window) => sum + window.errors, 0),
    throughput: Math.round(throughput * 1000) / 1000,
  };
}

function mergeEndpoint(windows: readonly EndpointResult[]): EndpointResult {
  const answered = windows.filter((window) => window.latency.max > 0);
  const weight = answered.reduce((sum, window) => sum + window.requests, 0);
  const mean = (pick: (window: EndpointResult) => number) =>
    weight === 0 ? 0 : answered.reduce((sum, window) => sum + pick(window) * window.requests, 0) / weight;
  return {
    ...mergeCounts(windows),
    latency: {
      p50: mean((window) => window.latency.p50),
      p90: mean((window) => window.latency.p90),
      p95: mean((window) => window.latency.p95),
      p99: mean((window) => window.latency.p99),
      max: Math.max(0, ...windows.map((window) => window.latency.max)),
    },
  };
}
