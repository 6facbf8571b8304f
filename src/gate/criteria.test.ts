import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CriteriaSyntaxError, parseCriteria, relativeTarget, type Criterion } from "./criteria.js";

describe("parseCriteria", () => {
  // The first ten rows are Keptn's TestParseCriteriaString cases (lighthouse-service).
  const table: { text: string; expected: Criterion }[] = [
    { text: "<10", expected: { kind: "fixed", operator: "<", threshold: 10 } },
    { text: "<=10", expected: { kind: "fixed", operator: "<=", threshold: 10 } },
    { text: "=10", expected: { kind: "fixed", operator: "=", threshold: 10 } },
    { text: ">=10", expected: { kind: "fixed", operator: ">=", threshold: 10 } },
    { text: ">10", expected: { kind: "fixed", operator: ">", threshold: 10 } },
    {
      text: ">-10%",
      expected: { kind: "relative", operator: ">", change: 10, percent: true, direction: "decrease" },
    },
    {
      text: "<=+10.5%",
      expected: { kind: "relative", operator: "<=", change: 10.5, percent: true, direction: "increase" },
    },
    {
      text: "<=+10",
      expected: { kind: "relative", operator: "<=", change: 10, percent: false, direction: "increase" },
    },
    {
      text: "  <=+10   %",
      expected: { kind: "relative", operator: "<=", change: 10, percent: true, direction: "increase" },
    },
    {
      text: "  <=10%",
      expected: { kind: "relative", operator: "<=", change: 10, percent: true, direction: "increase" },
    },
    {
      text: "<-5",
      expected: { kind: "relative", operator: "<", change: 5, percent: false, direction: "decrease" },
    },
    { text: "=0", expected: { kind: "fixed", operator: "=", threshold: 0 } },
    { text: "<.5", expected: { kind: "fixed", operator: "<", threshold: 0.5 } },
    { text: "<=1e3", expected: { kind: "fixed", operator: "<=", threshold: 1000 } },
  ];
  for (const { text, expected } of table) {
    it(`reads ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseCriteria(text), expected);
    });
  }

  for (const text of ["10", "<", "<=abc", "<10ms", "==5", "=<5", "<=+-10", "<=10%%", "<=."]) {
    it(`rejects ${JSON.stringify(text)} naming the criteria`, () => {
      assert.throws(
        () => parseCriteria(text),
        (error: unknown) => error instanceof CriteriaSyntaxError && error.message.includes(`"${text}"`),
      );
    });
  }
});

describe("relativeTarget", () => {
  it("applies a percentage in Keptn's order of operations, so 10 +10% is exactly 11", () => {
    assert.equal(
      relativeTarget(
        { kind: "relative", operator: "<=", change: 10, percent: true, direction: "increase" },
        10,
      ),
      11,
    );
  });
  it("subtracts an absolute decrease", () => {
    assert.equal(
      relativeTarget(
        { kind: "relative", operator: ">", change: 3, percent: false, direction: "decrease" },
        10,
      ),
      7,
    );
  });
});
