import assert from "node:assert/strict";
import { test } from "node:test";
import { pairedJudgementSchema } from "./signatures.js";

test("an estimate the samples could not give travels as null and reads back as NaN", () => {
  const sent = {
    sli: "latency_p95",
    criteria: "<=+10%",
    samples: { baseline: 3, candidate: 3 },
    unit: "ratio",
    bound: 1.1,
    typical: { estimate: Number.NaN, low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY },
    percentile: null,
    decision: "undecided",
    reason: "too few samples",
  };
  const read = pairedJudgementSchema.parse(JSON.parse(JSON.stringify(sent)));
  assert.ok(Number.isNaN(read.typical.estimate));
  assert.ok(Number.isNaN(read.typical.low));
  assert.equal(read.bound, 1.1);
  assert.equal(read.decision, "undecided");
});
