/**
 * A run across several worker threads: each takes every workers-th arrival of the one open-model
 * schedule and measures from its scheduled time, and their tallies merge exactly.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../errors.js";
import { mergeSamples, shareOf } from "./generator.js";
import { runLoad, workerCount } from "./isolated.js";
import { seededRandom } from "./request-mix.js";
import { Tally } from "./tally.js";
import { startTestServer } from "./test-server.test.helpers.js";

describe("merging workers' tallies", () => {
  const cases: Array<{
    name: string;
    samples: number;
    workers: number;
    spreadMs: number;
    failEvery: number;
  }> = [
    { name: "one worker", samples: 1000, workers: 1, spreadMs: 50, failEvery: 0 },
    { name: "two workers, a long tail", samples: 5000, workers: 2, spreadMs: 3000, failEvery: 97 },
    { name: "seven workers, sub-millisecond", samples: 20_000, workers: 7, spreadMs: 0.8, failEvery: 13 },
    { name: "more workers than answers", samples: 3, workers: 5, spreadMs: 10, failEvery: 0 },
  ];
  for (const { name, samples, workers, spreadMs, failEvery } of cases) {
    it(`equals one tally of every sample: ${name}`, () => {
      const random = seededRandom(samples);
      const whole = new Tally();
      const parts = Array.from({ length: workers }, () => new Tally());
      for (let index = 0; index < samples; index++) {
        const part = parts[index % workers] as Tally;
        if (failEvery > 0 && index % failEvery === 0) {
          whole.recordFailure();
          part.recordFailure();
          continue;
        }
        // A skewed spread, so the upper percentiles fall in other buckets than the median.
        const latencyMs = spreadMs * random() ** 4;
        const isServerError = index % 31 === 0;
        whole.recordAnswer(latencyMs, isServerError);
        part.recordAnswer(latencyMs, isServerError);
      }
      const merged = Tally.fromData(parts.map((part) => part.toData()));
      assert.deepEqual(merged.summary(10), whole.summary(10));
      assert.equal(merged.answered, whole.answered);
    });
  }

  const shares: Array<[total: number, count: number, expected: number[]]> = [
    [10, 1, [10]],
    [10, 3, [4, 3, 3]],
    [2, 4, [1, 1, 0, 0]],
    [64, 2, [32, 32]],
  ];
  for (const [total, count, expected] of shares) {
    it(`shares ${total} among ${count} workers as ${expected.join(", ")}`, () => {
      assert.deepEqual(
        expected.map((_, index) => shareOf(total, { index, count })),
        expected,
      );
    });
  }

  it("keeps a merged reservoir to the bound, in proportion to what each worker saw", () => {
    const merged = mergeSamples([
      { kept: new Array<number>(50_000).fill(1), seen: 300_000 },
      { kept: new Array<number>(50_000).fill(2), seen: 100_000 },
    ]);
    assert.equal(merged.filter((value) => value === 1).length, 37_500);
    assert.equal(merged.filter((value) => value === 2).length, 12_500);
    assert.deepEqual(
      mergeSamples([
        { kept: [1], seen: 1 },
        { kept: [2, 3], seen: 2 },
      ]),
      [1, 2, 3],
    );
  });

  it("uses no more threads than connections, and refuses a bad count", () => {
    assert.equal(workerCount({ target: "http://127.0.0.1:1", durationMs: 1, workers: 8, connections: 3 }), 3);
    assert.equal(workerCount({ target: "http://127.0.0.1:1", durationMs: 1 }), 1);
    assert.equal(workerCount({ target: "http://127.0.0.1:1", durationMs: 1, workers: 4, connections: 0 }), 1);
    assert.throws(
      () => workerCount({ target: "http://127.0.0.1:1", durationMs: 1, workers: 0 }),
      /workers must be a positive whole number/,
    );
  });
});

describe("a run across worker threads", () => {
  it("refuses a bad option as the user's mistake, from whichever thread saw it", async () => {
    await assert.rejects(
      runLoad({ target: "http://127.0.0.1:1", durationMs: 100, connections: 4, workers: 2, rate: -1 }),
      (error: unknown) => error instanceof UserError && /rate must be a positive number/.test(error.message),
    );
  });

  it("sends every arrival of the schedule once, with the same request mix as one thread", async () => {
    const server = await startTestServer((_request, response) => response.end("ok"));
    try {
      const options = {
        target: server.target,
        rate: 500,
        durationMs: 2000,
        maxRequests: 600,
        connections: 6,
        requests: [
          { method: "GET", path: "/a", weight: 3 },
          { method: "GET", path: "/b", weight: 1 },
          { method: "POST", path: "/c", body: "{}", weight: 1 },
        ],
      };
      const [one, three] = [await runLoad(options), await runLoad({ ...options, workers: 3 })];
      assert.equal(three.errors, 0);
      assert.equal(three.requests, 600);
      for (const endpoint of ["GET /a", "GET /b", "POST /c"]) {
        assert.equal(three.endpoints[endpoint]?.requests, one.endpoints[endpoint]?.requests, endpoint);
      }
    } finally {
      await server.close();
    }
  });

  it("still shows a periodic 1 s stall in the open-model p99 with two workers", async () => {
    const periodMs = 5000;
    const stallMs = 1000;
    const startedAt = performance.now();
    const server = await startTestServer((_request, response) => {
      const phase = (performance.now() - startedAt) % periodMs;
      const delay = phase >= periodMs - stallMs ? periodMs - phase + 10 : 10;
      setTimeout(() => response.end("ok"), delay);
    });
    try {
      const result = await runLoad({
        target: server.target,
        model: "open",
        rate: 100,
        durationMs: 10_000,
        connections: 10,
        workers: 2,
      });
      assert.equal(result.errors, 0);
      // Every scheduled arrival, from both workers, and the stall in the tail as with one thread.
      assert.equal(result.requests, 1000);
      assert.ok(result.latency.p99 >= 400, `open-model p99 ${result.latency.p99} ms should show the stall`);
      assert.ok(result.latency.p50 < 100, `p50 ${result.latency.p50} ms`);
    } finally {
      await server.close();
    }
  });
});
