/** Maps a load result to Waybill's built-in SLI names (docs/design.md, "Built-in SLIs"). */
import type { EndpointResult, LoadResult } from "./types.js";

export type SliValues = Record<string, number>;

/**
 * latency_p50 … latency_max (ms), error_rate (% of requests), throughput (req/s), and the same
 * per endpoint as `<sli>:<METHOD> <path>`. A value that was not measured is left out, not
 * reported as 0: with no answers there is no latency, with no requests no error rate, and
 * the gate fails an objective whose value is missing.
 */
export function loadResultToSlis(result: Pick<LoadResult, "endpoints"> & EndpointResult): SliValues {
  const slis = endpointResultToSlis(result);
  for (const [endpoint, endpointResult] of Object.entries(result.endpoints)) {
    for (const [name, value] of Object.entries(endpointResultToSlis(endpointResult)))
      slis[`${name}:${endpoint}`] = value;
  }
  return slis;
}

function endpointResultToSlis(result: EndpointResult): SliValues {
  const slis: SliValues = { throughput: result.throughput };
  if (result.requests > 0) slis.error_rate = (100 * result.errors) / result.requests;
  // Any answer takes some microseconds, so a zero maximum means nothing was answered.
  if (result.latency.max > 0) {
    slis.latency_p50 = result.latency.p50;
    slis.latency_p90 = result.latency.p90;
    slis.latency_p95 = result.latency.p95;
    slis.latency_p99 = result.latency.p99;
    slis.latency_max = result.latency.max;
  }
  return slis;
}
