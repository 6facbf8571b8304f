import assert from "node:assert/strict";
import { test } from "node:test";
import type { CanaryTraffic } from "../../targets/target.js";
import { judgeStep } from "./canary.js";

const settings = {
  steps: [10, 50, 100],
  stepDuration: "10s",
  judge: {
    metrics: ["latency", "error"],
    confidence: 0.98,
    tolerance: 0.25,
    allowedIncrease: 1.1,
    passScore: 95,
    marginalScore: 75,
  },
};

function side(latencies: number[], errorRates: number[] = [0, 0, 0]) {
  return { latencySamplesMs: latencies, errorRatePerSecond: errorRates, requests: latencies.length };
}
const around = (centre: number, count: number) =>
  Array.from({ length: count }, (_, i) => centre + ((i * 7919) % 100) / 100);

const cases: { name: string; traffic: CanaryTraffic; classification: string; reason?: RegExp }[] = [
  {
    name: "a canary as fast as the stable version passes",
    traffic: { stable: side(around(100, 400)), canary: side(around(100, 100)) },
    classification: "pass",
  },
  {
    name: "a rise that is significant but under the allowed increase passes",
    traffic: { stable: side(around(100, 4000)), canary: side(around(100.6, 1000)) },
    classification: "pass",
  },
  {
    name: "a canary 50% slower fails on latency",
    traffic: { stable: side(around(100, 400)), canary: side(around(150, 100)) },
    classification: "fail",
    reason: /latency High/,
  },
  {
    name: "a canary that errors where the stable one does not fails on errors",
    traffic: {
      stable: side(around(100, 400), [0, 0, 0, 0, 0, 0]),
      canary: side(around(100, 100), [40, 50, 45, 60, 55, 50]),
    },
    classification: "fail",
    reason: /error_rate High/,
  },
  {
    name: "a canary that got no traffic fails: there is nothing to judge it by",
    traffic: { stable: side(around(100, 400)), canary: null },
    classification: "fail",
  },
];

for (const c of cases) {
  test(c.name, () => {
    const verdict = judgeStep(c.traffic, settings);
    assert.equal(verdict.classification, c.classification, verdict.reason);
    if (c.reason) assert.match(verdict.reason, c.reason);
  });
}
