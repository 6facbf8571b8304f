import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCriteria } from "./criteria.js";
import {
  decideWithinNoise,
  judgePaired,
  latencyQuantile,
  medianAbsoluteDeviation,
  pairedCriteriaOf,
  type RelativeDecision,
} from "./paired-comparison.js";
import { seededGaussian } from "./statistics.js";

/** Log-normal latencies around `medianMs`, seeded, so every vector is the same on every run. */
function latencies(count: number, medianMs: number, spread: number, seed: number): number[] {
  const noise = seededGaussian(seed);
  return Array.from({ length: count }, () => medianMs * Math.exp(spread * noise()));
}

const relative = (text: string) => {
  const criterion = parseCriteria(text);
  if (criterion.kind !== "relative") throw new Error(`${text} is not relative`);
  return criterion;
};

describe("deciding a relative latency criterion on both sides' samples", () => {
  const baseline = latencies(400, 100, 0.2, 1);
  const cases: Array<{
    name: string;
    criteria: string;
    sli: string;
    candidate: number[];
    decision: RelativeDecision;
  }> = [
    {
      name: "an identical build holds",
      criteria: "<=+10%",
      sli: "latency_p95",
      candidate: latencies(400, 100, 0.2, 2),
      decision: "holds",
    },
    {
      name: "a 30% slower build is violated",
      criteria: "<=+10%",
      sli: "latency_p95",
      candidate: latencies(400, 130, 0.2, 3),
      decision: "violated",
    },
    {
      name: "a 15% slower build is violated",
      criteria: "<=+10%",
      sli: "latency_p95",
      candidate: latencies(400, 115, 0.2, 4),
      decision: "violated",
    },
    {
      name: "a 3% slower build holds",
      criteria: "<=+10%",
      sli: "latency_p50",
      candidate: latencies(400, 103, 0.2, 5),
      decision: "holds",
    },
    {
      name: "a build right at the bound is undecided",
      criteria: "<=+10%",
      sli: "latency_p95",
      candidate: latencies(400, 107, 0.2, 6),
      decision: "undecided",
    },
    {
      name: "a faster build holds",
      criteria: "<=+10%",
      sli: "latency_p99",
      candidate: latencies(400, 70, 0.2, 7),
      decision: "holds",
    },
    {
      name: "a required fall that happened holds",
      criteria: ">=-5%",
      sli: "latency_p50",
      candidate: latencies(400, 101, 0.2, 8),
      decision: "holds",
    },
    {
      name: "a 30% fall is violated where at most -5% is allowed",
      criteria: ">=-5%",
      sli: "latency_p50",
      candidate: latencies(400, 70, 0.2, 9),
      decision: "violated",
    },
    {
      name: "a shift in ms is judged in ms",
      criteria: "<=+5",
      sli: "latency_p50",
      candidate: latencies(400, 130, 0.2, 10),
      decision: "violated",
    },
    {
      name: "latency_max has only the typical interval",
      criteria: "<=+10%",
      sli: "latency_max",
      candidate: latencies(400, 100, 0.2, 11),
      decision: "holds",
    },
  ];
  for (const { name, criteria, sli, candidate, decision } of cases) {
    it(name, () => {
      const judgement = judgePaired({ sli, criteria, criterion: relative(criteria), baseline, candidate });
      assert.equal(judgement.decision, decision, judgement.reason);
      assert.deepEqual(judgement.samples, { baseline: 400, candidate: 400 });
      assert.ok(
        judgement.typical.low <= judgement.typical.estimate &&
          judgement.typical.estimate <= judgement.typical.high,
      );
    });
  }

  it("reports a percentile interval only for a percentile SLI", () => {
    const criterion = relative("<=+10%");
    const candidate = latencies(400, 100, 0.2, 12);
    assert.notEqual(
      judgePaired({ sli: "latency_p95", criteria: "<=+10%", criterion, baseline, candidate }).percentile,
      null,
    );
    assert.equal(
      judgePaired({ sli: "latency_max", criteria: "<=+10%", criterion, baseline, candidate }).percentile,
      null,
    );
  });

  it("leaves too few samples undecided, and says so", () => {
    const judgement = judgePaired({
      sli: "latency_p95",
      criteria: "<=+10%",
      criterion: relative("<=+10%"),
      baseline: [100, 101, 102],
      candidate: [200, 201, 202],
    });
    assert.equal(judgement.decision, "undecided");
    assert.match(
      judgement.reason,
      /too few samples to decide \(3 baseline, 3 candidate; 20 each are needed\)/,
    );
  });

  it("calls a tail-only regression of the judged percentile a violation", () => {
    const candidate = baseline.map((value, index) => (index % 10 === 0 ? value * 3 : value));
    const judgement = judgePaired({
      sli: "latency_p95",
      criteria: "<=+10%",
      criterion: relative("<=+10%"),
      baseline,
      candidate,
    });
    assert.equal(judgement.decision, "violated", judgement.reason);
  });
});

describe("history made noise-aware", () => {
  const increase = relative("<=+10%");
  const cases: Array<{
    name: string;
    measured: number;
    target: number;
    earlier: number[];
    decision: RelativeDecision;
  }> = [
    {
      name: "within the target holds",
      measured: 105,
      target: 110,
      earlier: [100, 90, 110],
      decision: "holds",
    },
    {
      name: "past the target inside the noise is undecided, a warning",
      measured: 118,
      target: 110,
      earlier: [100, 92, 108, 97, 104],
      decision: "undecided",
    },
    {
      name: "past the target beyond the noise is violated",
      measured: 160,
      target: 110,
      earlier: [100, 98, 102, 99, 101],
      decision: "violated",
    },
    {
      name: "past the target by more than the criterion's own margin is violated, however noisy",
      measured: 125,
      target: 110,
      earlier: [100, 60, 140, 70, 130],
      decision: "violated",
    },
    {
      name: "past the target with too little history is violated",
      measured: 118,
      target: 110,
      earlier: [100, 92],
      decision: "violated",
    },
  ];
  for (const { name, measured, target, earlier, decision } of cases) {
    it(name, () => {
      const decided = decideWithinNoise({ criterion: increase, measured, target, baseline: 100, earlier });
      assert.equal(decided.decision, decision);
    });
  }

  it("shows the spread it allowed", () => {
    const decided = decideWithinNoise({
      criterion: increase,
      measured: 118,
      target: 110,
      baseline: 100,
      earlier: [100, 92, 108, 97, 104],
    });
    assert.match(
      decided.reason,
      /inside the run-to-run noise of the earlier results \(±[\d.]+: 3 × robust spread of 5, at most the criterion's margin\), so not called a regression/,
    );
    assert.ok(decided.spread !== null && decided.spread > 0);
  });

  it("takes the median absolute deviation", () => {
    assert.equal(medianAbsoluteDeviation([1, 1, 2, 2, 4, 6, 9]), 1);
  });
});

describe("which criteria the samples decide", () => {
  it("takes the relative criteria of built-in latency objectives, pass and warning, once each", () => {
    const found = pairedCriteriaOf([
      {
        sli: "latency_p95",
        pass: [{ criteria: ["<=500", "<=+10%"] }],
        warning: [{ criteria: ["<=+20%", "<=+10%"] }],
      },
      { sli: "error_rate", pass: [{ criteria: ["<=+10%"] }] },
      { sli: "latency_p95:GET /", pass: [{ criteria: ["<=+10%"] }] },
    ]);
    assert.deepEqual(
      found.map(({ sli, criteria }) => `${sli} ${criteria}`),
      ["latency_p95 <=+10%", "latency_p95 <=+20%"],
    );
  });

  it("knows the quantile of each latency SLI", () => {
    assert.deepEqual(
      ["latency_p50", "latency_p90", "latency_p95", "latency_p99", "latency_max", "error_rate"].map(
        latencyQuantile,
      ),
      [0.5, 0.9, 0.95, 0.99, 1, null],
    );
  });
});
