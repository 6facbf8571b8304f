import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCriteria } from "../gate/criteria.js";
import { judgePaired } from "../gate/paired-comparison.js";
import { evaluateSlo } from "../gate/slo-evaluation.js";
import type { SloSpec } from "../spec/schema.js";
import { evaluationTable, gateSummary, type EvaluationView } from "./views.js";

const slo: SloSpec = {
  objectives: [
    { sli: "latency_p95", pass: [{ criteria: ["<=+10%"] }] },
    { sli: "error_rate", pass: [{ criteria: ["<1"] }], key_sli: true },
  ],
  total_score: { pass: "90%", warning: "75%" },
};

describe("the gate as people read it", () => {
  it("shows a concurrent baseline's sample sizes, estimates with intervals, and decisions", () => {
    const baseline = Array.from({ length: 100 }, (_, index) => 100 + (index % 10));
    const candidate = baseline.map((value) => value * 1.3);
    const criterion = parseCriteria("<=+10%");
    if (criterion.kind !== "relative") throw new Error("relative expected");
    const judgement = judgePaired({ sli: "latency_p95", criteria: "<=+10%", criterion, baseline, candidate });
    const evaluation = evaluateSlo(
      slo,
      { latency_p95: 141, error_rate: 0 },
      [{ result: "pass", values: { latency_p95: 108, error_rate: 0 } }],
      () => ({ decision: judgement.decision, reason: judgement.reason }),
    );
    const view: EvaluationView = {
      result: evaluation.result,
      score: evaluation.score,
      version: "2",
      baseline: ["r-1"],
      evaluation,
      baselineKind: "concurrent",
      paired: [judgement],
    };
    const shown = evaluationTable(view);
    assert.match(shown, /compared with the live release measured in the same window \(100 \+ 100 requests\)/);
    assert.match(
      shown,
      /latency_p95\s+<=\+10%\s+100\/100\s+\+30% \[\+[\d.]+%, \+[\d.]+%\]\s+\+[\d.]+% \[.*\]\s+violated/,
    );
    assert.match(
      gateSummary("staging", view),
      /^\[staging\] gate fail, score 50, against concurrent baseline; moved most: latency_p95 \+30\.56% \[/,
    );
  });

  it("shows, with history only, each relative criterion against the earlier results' spread", () => {
    const evaluation = evaluateSlo(
      slo,
      { latency_p95: 105, error_rate: 0 },
      [{ result: "pass", values: { latency_p95: 100, error_rate: 0 } }],
      () => ({ decision: "holds", reason: "within the target (run-to-run spread ±4.4)" }),
    );
    const shown = evaluationTable({
      result: evaluation.result,
      score: evaluation.score,
      version: "2",
      baseline: ["r-1"],
      evaluation,
      baselineKind: "history",
    });
    assert.match(shown, /compared with 1 earlier result\(s\)/);
    assert.match(
      shown,
      /against the earlier results' run-to-run noise:\nlatency_p95 <=\+10%: within the target \(run-to-run spread ±4\.4\)/,
    );
  });
});
