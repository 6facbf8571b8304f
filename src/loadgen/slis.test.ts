import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadResultToSlis } from "./slis.js";
import type { LoadResult } from "./types.js";

const latency = { p50: 1.5, p90: 3, p95: 4, p99: 9.25, max: 20 };
const generator = { stalledMs: 0, maxStallMs: 0, inconclusive: null };

describe("load result as SLIs", () => {
  it("names totals and per-endpoint values as the built-in SLIs", () => {
    const result: LoadResult = {
      requests: 200,
      errors: 5,
      throughput: 99.5,
      latency,
      endpoints: { "GET /": { requests: 200, errors: 5, throughput: 99.5, latency } },
      generator,
    };
    assert.deepEqual(loadResultToSlis(result), {
      throughput: 99.5,
      error_rate: 2.5,
      latency_p50: 1.5,
      latency_p90: 3,
      latency_p95: 4,
      latency_p99: 9.25,
      latency_max: 20,
      "throughput:GET /": 99.5,
      "error_rate:GET /": 2.5,
      "latency_p50:GET /": 1.5,
      "latency_p90:GET /": 3,
      "latency_p95:GET /": 4,
      "latency_p99:GET /": 9.25,
      "latency_max:GET /": 20,
    });
  });

  it("leaves out latency when nothing was answered and error rate when nothing was sent", () => {
    const noLatency = { p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
    const result: LoadResult = {
      requests: 10,
      errors: 10,
      throughput: 0,
      latency: noLatency,
      endpoints: {
        "GET /down": { requests: 10, errors: 10, throughput: 0, latency: noLatency },
        "GET /never": { requests: 0, errors: 0, throughput: 0, latency: noLatency },
      },
      generator,
    };
    assert.deepEqual(loadResultToSlis(result), {
      throughput: 0,
      error_rate: 100,
      "throughput:GET /down": 0,
      "error_rate:GET /down": 100,
      "throughput:GET /never": 0,
    });
  });
});
