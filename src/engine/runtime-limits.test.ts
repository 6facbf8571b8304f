import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluateSlo } from "../gate/slo-evaluation.js";
import { sloSchema } from "../spec/schema.js";
import type { RuntimeLimitsSeen } from "../store/events.js";
import { RUNTIME_LIMITS_SLI, explainRuntimeLimits, withRuntimeLimitsObjective } from "./runtime-limits.js";

const slo = sloSchema.parse({
  objectives: [
    { sli: "latency_p95", pass: [{ criteria: ["<=500"] }] },
    { sli: "error_rate", pass: [{ criteria: ["<1"] }], key_sli: true },
  ],
  total_score: { pass: "90%", warning: "75%" },
});

const took: RuntimeLimitsSeen = { runtime: "jvm", expected: {}, seen: {}, mismatches: [] };
const mismatched: RuntimeLimitsSeen = {
  runtime: "jvm",
  expected: { activeProcessorCount: "1" },
  seen: { activeProcessorCount: "2" },
  mismatches: ["the JVM sees 2 processors; its CPU limit is 1 (ActiveProcessorCount=2 was set)"],
};

function judge(seen: RuntimeLimitsSeen | undefined, mismatches: number | undefined) {
  const judged = withRuntimeLimitsObjective(slo, seen);
  const values: Record<string, number> = { latency_p95: 100, error_rate: 0 };
  if (mismatches !== undefined) values[RUNTIME_LIMITS_SLI] = mismatches;
  return explainRuntimeLimits(evaluateSlo(judged, values, []), seen);
}

test("a runtime that took its limits leaves the gate's objectives and score as they were", () => {
  const evaluation = judge(took, 0);
  assert.ok(evaluation.objectives.every((objective) => objective.sli !== RUNTIME_LIMITS_SLI));
  assert.equal(evaluation.result, "pass");
  assert.equal(evaluation.score, 100);
});

test("a runtime that did not take its limits is a warning in the gate's table, with the reason", () => {
  const evaluation = judge(mismatched, 1);
  const objective = evaluation.objectives.find((candidate) => candidate.sli === RUNTIME_LIMITS_SLI);
  assert.equal(objective?.status, "warning");
  assert.match(objective?.inconclusive ?? "", /the JVM sees 2 processors; its CPU limit is 1/);
  assert.notEqual(evaluation.result, "fail", "a mismatch never fails the gate by itself");
});

test("no runtime check, or one that could not observe the runtime, adds no objective", () => {
  for (const seen of [undefined, { unobservable: "no java process" }] as const) {
    const evaluation = judge(seen, undefined);
    assert.ok(evaluation.objectives.every((objective) => objective.sli !== RUNTIME_LIMITS_SLI));
  }
});

test("an SLO that names the runtime's SLI itself keeps its own criteria", () => {
  const own = sloSchema.parse({ objectives: [{ sli: RUNTIME_LIMITS_SLI, pass: [{ criteria: ["<=0"] }] }] });
  assert.equal(withRuntimeLimitsObjective(own, mismatched), own);
});
