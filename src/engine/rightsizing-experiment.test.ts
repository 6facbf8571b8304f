import { test } from "node:test";
import assert from "node:assert/strict";
import type { PairedJudgement } from "../gate/paired-comparison.js";
import { sloSchema } from "../spec/schema.js";
import { judgeStep } from "./rightsizing-experiment.js";

const slo = sloSchema.parse({
  objectives: [
    { sli: "latency_p95", pass: [{ criteria: ["<=100", "<=+50%"] }] },
    { sli: "error_rate", pass: [{ criteria: ["<1"] }], key_sli: true },
    { sli: "queue_depth", pass: [{ criteria: ["<10"] }] },
  ],
  total_score: { pass: "90%", warning: "75%" },
});

function judged(decision: PairedJudgement["decision"]): PairedJudgement {
  return {
    sli: "latency_p95",
    criteria: "<=+50%",
    samples: { baseline: 100, candidate: 100 },
    unit: "ratio",
    bound: 1.5,
    typical: { estimate: 1, low: 1, high: 1 },
    percentile: null,
    decision,
    reason: `decided ${decision} on the samples`,
  };
}

const vectors: {
  name: string;
  trial: Record<string, number>;
  paired: PairedJudgement[];
  passed: boolean;
  reason: RegExp;
}[] = [
  {
    name: "a trial as fast as the declared size passes",
    trial: { latency_p95: 12, error_rate: 0 },
    paired: [judged("holds")],
    passed: true,
    reason: /every SLO passed/,
  },
  {
    name: "a trial past the absolute bound fails",
    trial: { latency_p95: 400, error_rate: 0 },
    paired: [judged("violated")],
    passed: false,
    reason: /latency_p95 = 400 violates <=100/,
  },
  {
    name: "a trial that errors fails on the key SLI",
    trial: { latency_p95: 12, error_rate: 5 },
    paired: [judged("holds")],
    passed: false,
    reason: /error_rate key SLI = 5 violates <1/,
  },
  {
    name: "a relative criterion violated on the samples fails even inside the absolute bound",
    trial: { latency_p95: 60, error_rate: 0 },
    paired: [judged("violated")],
    passed: false,
    reason: /decided violated on the samples/,
  },
];

for (const vector of vectors) {
  test(`a rightsizing step: ${vector.name}`, () => {
    const verdict = judgeStep(slo, vector.trial, { latency_p95: 10, error_rate: 0 }, vector.paired);
    assert.equal(verdict.passed, vector.passed, verdict.reason);
    assert.match(verdict.reason, vector.reason);
  });
}

test("a rightsizing step judges only the SLIs the experiment measures, and none at all is no pass", () => {
  const verdict = judgeStep(slo, { latency_p95: 10, error_rate: 0 }, { latency_p95: 10, error_rate: 0 }, []);
  assert.equal(verdict.passed, true, "queue_depth, from elsewhere, is not judged");
  const nothing = judgeStep(
    sloSchema.parse({ objectives: [{ sli: "queue_depth", pass: [{ criteria: ["<10"] }] }] }),
    { latency_p95: 10 },
    { latency_p95: 10 },
    [],
  );
  assert.equal(nothing.passed, false);
  assert.match(nothing.reason, /no objective on an SLI the test load measures/);
});
