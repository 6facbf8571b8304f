import { test } from "node:test";
import assert from "node:assert/strict";
import { TrafficMeter } from "./traffic.js";

test("the meter counts requests, errors and in-flight requests per instance", () => {
  const meter = new TrafficMeter();
  const ok = meter.begin("a");
  const failed = meter.begin("a");
  const serverError = meter.begin("b");
  const notFound = meter.begin("b");
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
  const tally = meter.begin("a");
  const idle = meter.whenIdle("a", 5000);
  setTimeout(() => tally.finish({ status: 200, upstreamFailed: false }), 20);
  assert.equal(await idle, true);

  meter.begin("a");
  const startedAt = Date.now();
  assert.equal(await meter.whenIdle("a", 50), false);
  assert.ok(Date.now() - startedAt >= 45);
});
