import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_LATENCY_SAMPLES, TrafficMeter, statusClassOf } from "./traffic.js";

/** A meter on a clock the test moves by hand, so latencies and seconds are exact. */
function meterWithClock(): { meter: TrafficMeter; advance: (ms: number) => void } {
  let nowMs = 1_000_000;
  return { meter: new TrafficMeter(() => nowMs), advance: (ms) => (nowMs += ms) };
}

test("the meter counts requests, errors and in-flight requests per instance", () => {
  const meter = new TrafficMeter();
  const ok = meter.begin("a", "v1");
  const failed = meter.begin("a", "v1");
  const serverError = meter.begin("b", "v2");
  const notFound = meter.begin("b", "v2");
  assert.deepEqual(meter.snapshot(), {
    a: { requests: 2, errors: 0, inFlight: 2 },
    b: { requests: 2, errors: 0, inFlight: 2 },
  });
  ok.finish({ status: 200, upstreamFailed: false });
  ok.finish({ status: 500, upstreamFailed: true }); // a second finish is ignored
  failed.finish({ status: null, upstreamFailed: true });
  serverError.finish({ status: 503, upstreamFailed: false });
  notFound.finish({ status: 404, upstreamFailed: false });
  assert.deepEqual(meter.snapshot(), {
    a: { requests: 2, errors: 1, inFlight: 0 },
    b: { requests: 2, errors: 1, inFlight: 0 },
  });
  meter.forget("a");
  assert.deepEqual(Object.keys(meter.snapshot()), ["b"]);
});

test("whenIdle resolves once the last in-flight request ends, or false at its deadline", async () => {
  const meter = new TrafficMeter();
  assert.equal(await meter.whenIdle("unknown", 10), true);
  const tally = meter.begin("a", "v1");
  const idle = meter.whenIdle("a", 5000);
  setTimeout(() => tally.finish({ status: 200, upstreamFailed: false }), 20);
  assert.equal(await idle, true);

  meter.begin("a", "v1");
  const startedAt = Date.now();
  assert.equal(await meter.whenIdle("a", 50), false);
  assert.ok(Date.now() - startedAt >= 45);
});

test("status classes: an upstream failure or no answer at all is an error, whatever the status", () => {
  const cases: Array<[number | null, boolean, string]> = [
    [200, false, "2xx"],
    [204, false, "2xx"],
    [302, false, "3xx"],
    [404, false, "4xx"],
    [500, false, "5xx"],
    [599, false, "5xx"],
    [200, true, "error"],
    [503, true, "error"],
    [null, true, "error"],
    [null, false, "error"],
  ];
  for (const [status, upstreamFailed, expected] of cases) {
    assert.equal(statusClassOf({ status, upstreamFailed }), expected, `${status} failed=${upstreamFailed}`);
  }
});

test("a window reports latency percentiles, samples and counts of requests finished while it was open", () => {
  const { meter, advance } = meterWithClock();
  const before = meter.begin("a", "v1");
  const window = meter.openWindow();
  // Latencies 1..100 ms, one after the other.
  for (let latency = 1; latency <= 100; latency += 1) {
    const tally = meter.begin("a", "v1");
    advance(latency);
    tally.finish({ status: latency % 10 === 0 ? 500 : 200, upstreamFailed: false });
  }
  before.finish({ status: 200, upstreamFailed: false }); // began before the window, finished in it
  const traffic = window.read().a;
  assert.ok(traffic !== undefined);
  assert.equal(traffic.instanceId, "a");
  assert.equal(traffic.version, "v1");
  assert.equal(traffic.requests, 101);
  assert.equal(traffic.errors, 10);
  assert.equal(traffic.latencySamplesMs.length, 101);
  assert.deepEqual(traffic.latencySamplesMs.slice(0, 3), [1, 2, 3]);
  assert.equal(traffic.latencySamplesMs.at(-1), 5050, "the early request waited for all the others");
  // HdrHistogram at 3 significant digits: values within 0.1%.
  const near = (actual: number, expected: number): void =>
    assert.ok(Math.abs(actual - expected) <= expected * 0.001 + 0.001, `${actual} ≉ ${expected}`);
  near(traffic.latency.p50, 51);
  near(traffic.latency.p90, 91);
  near(traffic.latency.p95, 96);
  near(traffic.latency.p99, 100);
  near(traffic.latency.max, 5050);
});

test("a window gives one error rate per whole second that saw requests, and stops at close", () => {
  const { meter, advance } = meterWithClock();
  const window = meter.openWindow();
  const request = (status: number): void => meter.begin("a", "v1").finish({ status, upstreamFailed: false });
  // second 0: 1 error of 4
  for (const status of [200, 200, 500, 200]) request(status);
  advance(1000);
  // second 1: none; second 2: 2 of 2
  advance(1000);
  request(502);
  request(503);
  advance(500);
  assert.deepEqual(window.read().a?.errorRatePerSecond, [25], "second 2 is not over yet");
  advance(500);
  // second 3: 0 of 1, cut off by the close
  request(200);
  advance(300);
  window.close();
  request(500);
  advance(5000);
  const traffic = window.read().a;
  assert.deepEqual(traffic?.errorRatePerSecond, [25, 100]);
  assert.equal(traffic?.requests, 7, "nothing after close");
});

test("windows are independent, per instance, and keep only the most recent samples", () => {
  const { meter, advance } = meterWithClock();
  const first = meter.openWindow();
  meter.begin("stable", "v1").finish({ status: 200, upstreamFailed: false });
  const second = meter.openWindow();
  const overflow = 25;
  for (let index = 0; index < MAX_LATENCY_SAMPLES + overflow; index += 1) {
    const tally = meter.begin("canary", "v2");
    advance(1);
    tally.finish({ status: 200, upstreamFailed: false });
  }
  first.close();
  meter.begin("stable", "v1").finish({ status: 200, upstreamFailed: false });

  assert.deepEqual(Object.keys(first.read()).sort(), ["canary", "stable"]);
  assert.equal(first.read().stable?.requests, 1);
  assert.equal(second.read().stable?.requests, 1);
  const canary = second.read().canary;
  assert.equal(canary?.version, "v2");
  assert.equal(canary?.requests, MAX_LATENCY_SAMPLES + overflow);
  assert.equal(canary?.latencySamplesMs.length, MAX_LATENCY_SAMPLES);
  second.close();
});

test("the cumulative metrics count status classes and fill the duration buckets", () => {
  const { meter, advance } = meterWithClock();
  const finishAfter = (ms: number, status: number | null, upstreamFailed = false): void => {
    const tally = meter.begin("a", "v1");
    advance(ms);
    tally.finish({ status, upstreamFailed });
  };
  finishAfter(0.5, 200);
  finishAfter(3, 200);
  finishAfter(20, 404);
  finishAfter(700, 500);
  finishAfter(12_000, null, true);
  const open = meter.begin("a", "v1");
  const [metrics] = meter.metrics();
  assert.ok(metrics !== undefined);
  assert.equal(metrics.version, "v1");
  assert.deepEqual(metrics.requestsByClass, { "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 1, error: 1 });
  assert.equal(metrics.inFlight, 1);
  assert.equal(metrics.duration.count, 5);
  assert.ok(Math.abs(metrics.duration.sumSeconds - 12.7235) < 1e-9);
  // Bounds: 1ms 2.5ms 5ms 10ms 25ms 50ms 100ms 250ms 500ms 1s 2.5s 5s 10s
  assert.deepEqual(metrics.duration.bucketCounts, [1, 1, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4]);
  open.finish({ status: 200, upstreamFailed: false });
});
