import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SloSpec } from "../spec/schema.js";
import { CriteriaSyntaxError } from "./criteria.js";
import type { RelativeDecision } from "./paired-comparison.js";
import {
  aggregate,
  evaluateSlo,
  type CriterionTarget,
  type Evaluation,
  type ObjectiveStatus,
  type PreviousEvaluation,
} from "./slo-evaluation.js";

interface ExpectedObjective {
  status: ObjectiveStatus;
  score?: number;
  passTargets?: CriterionTarget[];
  warningTargets?: CriterionTarget[];
  comparedValue?: number;
  success?: boolean;
}

interface Vector {
  name: string;
  slo: SloSpec | undefined;
  values: Record<string, number | null | undefined>;
  previous?: PreviousEvaluation[];
  result: Evaluation["result"];
  score: number;
  message?: string;
  objectives?: Record<string, ExpectedObjective>;
  comparedIndexes?: number[];
}

const target = (criteria: string, targetValue: number, violated: boolean): CriterionTarget => ({
  criteria,
  targetValue,
  violated,
});

// The objective and comparison of Keptn's TestEvaluateObjectives cases.
const keptnComparison: SloSpec["comparison"] = {
  compare_with: "several_results",
  include_result_with_score: "pass",
  number_of_comparison_results: 2,
  aggregate_function: "avg",
};
const keptnObjective = {
  sli: "my-test-metric-1",
  pass: [{ criteria: ["<=15.0"] }, { criteria: ["<=+10%"] }],
  warning: [{ criteria: ["<=20.0"] }, { criteria: ["<=+15%"] }],
  weight: 1,
};
const keptnPrevious: PreviousEvaluation[] = [{ result: "pass", values: { "my-test-metric-1": 10 } }];
const totalScore = { pass: "90%", warning: "75%" };

const vectors: Vector[] = [
  // Keptn's own situations (lighthouse-service evaluate_sli_handler_test.go, main_test.go).
  {
    name: "passes a simple comparison (Keptn: Simple comparison evaluation)",
    slo: { comparison: keptnComparison, objectives: [keptnObjective], total_score: totalScore },
    values: { "my-test-metric-1": 10 },
    previous: keptnPrevious,
    result: "pass",
    score: 100,
    objectives: {
      "my-test-metric-1": {
        status: "pass",
        score: 1,
        passTargets: [target("<=15.0", 15, false), target("<=+10%", 11, false)],
        comparedValue: 10,
      },
    },
  },
  {
    name: "gives half the weight on a warning (Keptn: Expect Warning)",
    slo: { comparison: keptnComparison, objectives: [keptnObjective], total_score: totalScore },
    values: { "my-test-metric-1": 16 },
    previous: keptnPrevious,
    result: "fail",
    score: 50,
    objectives: {
      "my-test-metric-1": {
        status: "warning",
        score: 0.5,
        passTargets: [target("<=15.0", 15, true), target("<=+10%", 11, true)],
        warningTargets: [target("<=20.0", 20, false), target("<=+15%", 11.5, true)],
      },
    },
  },
  {
    name: "leaves an objective without pass criteria out of the score (Keptn: Logging SLI)",
    slo: {
      comparison: keptnComparison,
      objectives: [keptnObjective, { sli: "my-log-metric", weight: 1 }],
      total_score: totalScore,
    },
    values: { "my-test-metric-1": 10, "my-log-metric": 30 },
    previous: keptnPrevious,
    result: "pass",
    score: 100,
    objectives: { "my-log-metric": { status: "info", score: 0 } },
  },
  {
    name: "treats an empty pass list as info (Keptn: BUG 2231)",
    slo: {
      comparison: keptnComparison,
      objectives: [keptnObjective, { sli: "my-log-metric", weight: 1, pass: [], warning: [] }],
      total_score: totalScore,
    },
    values: { "my-test-metric-1": 10, "my-log-metric": 30 },
    previous: keptnPrevious,
    result: "pass",
    score: 100,
    objectives: { "my-log-metric": { status: "info", score: 0 } },
  },
  {
    name: "passes a relative criterion with no earlier results, and still fails the fixed one (Keptn: BUG 1125)",
    slo: {
      comparison: keptnComparison,
      objectives: [{ sli: "response_time_p50", pass: [{ criteria: ["<=+20%", "<500"] }], weight: 1 }],
      total_score: totalScore,
    },
    values: { response_time_p50: 1011.0745528937252 },
    previous: [],
    result: "fail",
    score: 0,
    objectives: {
      response_time_p50: {
        status: "fail",
        passTargets: [target("<=+20%", 0, false), target("<500", 500, true)],
      },
    },
  },
  {
    name: "passes a relative criterion when the earlier result has no value (Keptn: BUG 1263)",
    slo: {
      comparison: { ...keptnComparison, compare_with: "single_result", number_of_comparison_results: 1 },
      objectives: [{ sli: "response_time_p50", pass: [{ criteria: ["<=+20%"] }], weight: 1 }],
      total_score: totalScore,
    },
    values: { response_time_p50: 100 },
    previous: [{ result: "pass", values: { response_time_p50: null } }],
    result: "pass",
    score: 100,
    objectives: {
      response_time_p50: { status: "pass", score: 1, passTargets: [target("<=+20%", 0, false)] },
    },
  },
  {
    name: "fails the evaluation when a key SLI fails (Keptn: Key SLI failed)",
    slo: {
      comparison: keptnComparison,
      objectives: [keptnObjective, { ...keptnObjective, sli: "my-key-metric", key_sli: true }],
      total_score: totalScore,
    },
    values: { "my-test-metric-1": 10, "my-key-metric": 25 },
    previous: [{ result: "pass", values: { "my-test-metric-1": 10, "my-key-metric": 10 } }],
    result: "fail",
    score: 50,
    message: "key SLI my-key-metric failed",
  },
  {
    name: "passes with 100 when every objective is info (Keptn: Only Info SLIs)",
    slo: {
      comparison: keptnComparison,
      objectives: [
        { sli: "my-test-metric-1", weight: 1 },
        { sli: "my-key-metric", weight: 1 },
      ],
      total_score: totalScore,
    },
    values: { "my-test-metric-1": 10, "my-key-metric": 10 },
    result: "pass",
    score: 100,
  },
  {
    name: "fails an SLO without objectives (Keptn: Test_NoSLOObjectives)",
    slo: { spec_version: "1.0", comparison: keptnComparison, objectives: null, total_score: totalScore },
    values: {},
    result: "fail",
    score: 0,
    message: "no SLO objective was provided",
  },
  {
    name: "reproduces the targets Keptn stored for its quality-gates example (main_test.go)",
    slo: {
      spec_version: "0.1.1",
      comparison: {
        aggregate_function: "avg",
        compare_with: "single_result",
        include_result_with_score: "pass",
        number_of_comparison_results: 1,
      },
      filter: null,
      objectives: [
        {
          sli: "response_time_p95",
          key_sli: false,
          pass: [{ criteria: ["<=+75%", "<800"] }],
          warning: [{ criteria: ["<=1000", "<=+100%"] }],
          weight: 1,
        },
        { sli: "throughput", pass: [{ criteria: ["<=+100%", ">=-80%"] }] },
        { sli: "error_rate" },
      ],
      total_score: { pass: "100%", warning: "65%" },
    },
    values: { response_time_p95: 200, throughput: 200, error_rate: 0 },
    previous: [{ result: "pass", values: { response_time_p95: 200, throughput: 200, error_rate: 0 } }],
    result: "pass",
    score: 100,
    objectives: {
      response_time_p95: {
        status: "pass",
        score: 1,
        passTargets: [target("<=+75%", 350, false), target("<800", 800, false)],
        warningTargets: [target("<=1000", 1000, false), target("<=+100%", 400, false)],
        comparedValue: 200,
      },
      throughput: {
        status: "pass",
        score: 1,
        passTargets: [target("<=+100%", 400, false), target(">=-80%", 40, false)],
      },
      error_rate: { status: "info", score: 0 },
    },
  },

  // Edge cases.
  {
    name: "passes without evaluating when there is no SLO",
    slo: undefined,
    values: { latency: 1 },
    result: "pass",
    score: 0,
    message: "no SLO was given, so nothing was evaluated",
  },
  {
    name: "fails an objective whose value is missing, and says why",
    slo: {
      objectives: [
        { sli: "a", pass: [{ criteria: ["<10"] }] },
        { sli: "b", pass: [{ criteria: ["<10"] }] },
      ],
    },
    values: { a: 1, b: undefined },
    result: "fail",
    score: 50,
    objectives: { b: { status: "fail", success: false, passTargets: [target("<10", 10, true)] } },
  },
  {
    name: "fails an objective whose value is null",
    slo: { objectives: [{ sli: "a", pass: [{ criteria: ["<10"] }] }] },
    values: { a: null },
    result: "fail",
    score: 0,
    objectives: { a: { status: "fail", success: false } },
  },
  {
    name: "fails the evaluation when a key SLI has no value",
    slo: {
      objectives: [
        { sli: "a", pass: [{ criteria: ["<10"] }], weight: 9 },
        { sli: "b", pass: [{ criteria: ["<10"] }], key_sli: true },
      ],
    },
    values: { a: 1 },
    result: "fail",
    score: 90,
    message: "key SLI b failed",
  },
  {
    name: "does not fail the evaluation when a key SLI only warns",
    slo: {
      objectives: [
        { sli: "a", pass: [{ criteria: ["<10"] }], warning: [{ criteria: ["<20"] }], key_sli: true },
        { sli: "b", pass: [{ criteria: ["<10"] }], weight: 3 },
      ],
    },
    values: { a: 15, b: 1 },
    result: "warning",
    score: 87.5,
  },
  {
    name: "keeps an info objective info when its value is missing",
    slo: { objectives: [{ sli: "a", pass: [{ criteria: ["<10"] }] }, { sli: "log" }] },
    values: { a: 1 },
    result: "pass",
    score: 100,
    objectives: { log: { status: "info", success: false } },
  },
  {
    name: "counts a weight of 0 as 1",
    slo: {
      objectives: [
        { sli: "a", pass: [{ criteria: ["<10"] }], weight: 0 },
        { sli: "b", pass: [{ criteria: ["<10"] }], weight: 3 },
      ],
    },
    values: { a: 1, b: 11 },
    result: "fail",
    score: 25,
  },
  {
    name: "passes when one criteria list holds though another does not (OR across lists)",
    slo: { objectives: [{ sli: "a", pass: [{ criteria: ["<5"] }, { criteria: [">100"] }] }] },
    values: { a: 200 },
    result: "pass",
    score: 100,
    objectives: { a: { status: "pass", passTargets: [target("<5", 5, true), target(">100", 100, false)] } },
  },
  {
    name: "fails when one criterion of a list does not hold (AND within a list)",
    slo: { objectives: [{ sli: "a", pass: [{ criteria: [">1", "<5"] }] }] },
    values: { a: 7 },
    result: "fail",
    score: 0,
  },
  {
    name: "uses Keptn's total_score of 90% and 75% when the SLO has none",
    slo: {
      objectives: [
        { sli: "a", pass: [{ criteria: ["<10"] }], weight: 4 },
        { sli: "b", pass: [{ criteria: ["<10"] }], weight: 1 },
      ],
    },
    values: { a: 1, b: 11 },
    result: "warning",
    score: 80,
  },
  {
    name: "fails below the pass target when total_score has no warning",
    slo: {
      objectives: [
        { sli: "a", pass: [{ criteria: ["<10"] }], weight: 4 },
        { sli: "b", pass: [{ criteria: ["<10"] }], weight: 1 },
      ],
      total_score: { pass: "85" },
    },
    values: { a: 1, b: 11 },
    result: "fail",
    score: 80,
    message: "score 80 is below the pass target 85%",
  },
  {
    name: "reads a percentage without a sign as an increase",
    slo: {
      comparison: { compare_with: "single_result" },
      objectives: [{ sli: "a", pass: [{ criteria: ["<=10%"] }] }],
    },
    values: { a: 110 },
    previous: [{ result: "pass", values: { a: 100 } }],
    result: "pass",
    score: 100,
    objectives: { a: { status: "pass", passTargets: [target("<=10%", 110, false)] } },
  },
  {
    name: "lowers the target for a minus sign, in percent or in the SLI's unit",
    slo: {
      comparison: { compare_with: "single_result" },
      objectives: [{ sli: "a", pass: [{ criteria: [">=-20%", ">-30"] }] }],
    },
    values: { a: 79 },
    previous: [{ result: "pass", values: { a: 100 } }],
    result: "fail",
    score: 0,
    objectives: {
      a: { status: "fail", passTargets: [target(">=-20%", 80, true), target(">-30", 70, false)] },
    },
  },
  {
    name: "filters by include_result_with_score before taking the N newest",
    slo: {
      comparison: {
        compare_with: "several_results",
        number_of_comparison_results: 2,
        include_result_with_score: "pass",
      },
      objectives: [{ sli: "a", pass: [{ criteria: ["<=+0%"] }] }],
    },
    values: { a: 25 },
    previous: [
      { result: "fail", values: { a: 1000 } },
      { result: "pass", values: { a: 20 } },
      { result: "warning", values: { a: 500 } },
      { result: "pass", values: { a: 30 } },
      { result: "pass", values: { a: 10 } },
    ],
    result: "pass",
    score: 100,
    comparedIndexes: [1, 3],
    objectives: { a: { status: "pass", comparedValue: 25 } },
  },
  {
    name: "admits warnings with pass_or_warn",
    slo: {
      comparison: {
        compare_with: "several_results",
        number_of_comparison_results: 2,
        include_result_with_score: "pass_or_warn",
      },
      objectives: [{ sli: "a", pass: [{ criteria: ["<=+0%"] }] }],
    },
    values: { a: 1 },
    previous: [
      { result: "fail", values: { a: 0 } },
      { result: "warning", values: { a: 4 } },
      { result: "pass", values: { a: 2 } },
    ],
    result: "pass",
    score: 100,
    comparedIndexes: [1, 2],
    objectives: { a: { status: "pass", comparedValue: 3 } },
  },
  {
    name: "compares with the newest result of any score when there is no comparison block",
    slo: { objectives: [{ sli: "a", pass: [{ criteria: ["<=+10%"] }] }] },
    values: { a: 12 },
    previous: [
      { result: "fail", values: { a: 10 } },
      { result: "pass", values: { a: 100 } },
    ],
    result: "fail",
    score: 0,
    comparedIndexes: [0],
  },
  {
    name: "compares with 3 results when the block names no compare_with",
    slo: {
      comparison: { number_of_comparison_results: 5 },
      objectives: [{ sli: "a", pass: [{ criteria: ["<=+0%"] }] }],
    },
    values: { a: 2 },
    previous: [1, 2, 3, 4, 5].map((a) => ({ result: "pass" as const, values: { a } })),
    result: "pass",
    score: 100,
    comparedIndexes: [0, 1, 2],
    objectives: { a: { status: "pass", comparedValue: 2 } },
  },
  {
    name: "leaves a null earlier value out of the aggregate",
    slo: {
      comparison: { compare_with: "several_results", number_of_comparison_results: 3 },
      objectives: [{ sli: "a", pass: [{ criteria: ["<=+0%"] }] }],
    },
    values: { a: 15 },
    previous: [
      { result: "pass", values: { a: 10 } },
      { result: "pass", values: { a: null } },
      { result: "pass", values: { a: 20 } },
    ],
    result: "pass",
    score: 100,
    objectives: { a: { status: "pass", comparedValue: 15 } },
  },
  {
    name: "aggregates earlier values with p90 interpolated at p·(n+1)",
    slo: {
      comparison: {
        compare_with: "several_results",
        number_of_comparison_results: 11,
        aggregate_function: "p90",
      },
      objectives: [{ sli: "a", pass: [{ criteria: ["<=+0"] }] }],
    },
    values: { a: 9.8 },
    previous: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((a) => ({ result: "pass" as const, values: { a } })),
    result: "pass",
    score: 100,
    objectives: { a: { status: "pass", comparedValue: 9.8 } },
  },
];

describe("evaluateSlo", () => {
  for (const vector of vectors) {
    it(vector.name, () => {
      const evaluation = evaluateSlo(vector.slo, vector.values, vector.previous ?? []);
      assert.equal(evaluation.result, vector.result);
      assert.equal(evaluation.score, vector.score);
      if (vector.message !== undefined) assert.equal(evaluation.message, vector.message);
      if (vector.comparedIndexes !== undefined) {
        assert.deepEqual(evaluation.comparison.comparedIndexes, vector.comparedIndexes);
      }
      for (const [sli, expected] of Object.entries(vector.objectives ?? {})) {
        const objective = evaluation.objectives.find((candidate) => candidate.sli === sli);
        assert.ok(objective, `no result for ${sli}`);
        assert.equal(objective.status, expected.status, `${sli} status`);
        if (expected.score !== undefined) assert.equal(objective.score, expected.score, `${sli} score`);
        if (expected.passTargets !== undefined) assert.deepEqual(objective.passTargets, expected.passTargets);
        if (expected.warningTargets !== undefined)
          assert.deepEqual(objective.warningTargets, expected.warningTargets);
        if (expected.comparedValue !== undefined)
          assert.equal(objective.value.comparedValue, expected.comparedValue);
        if (expected.success !== undefined) assert.equal(objective.value.success, expected.success);
      }
    });
  }

  it("names the objective and the criteria it cannot read", () => {
    const slo: SloSpec = { objectives: [{ sli: "latency", pass: [{ criteria: ["<=200ms"] }] }] };
    assert.throws(
      () => evaluateSlo(slo, { latency: 1 }),
      (error: unknown) =>
        error instanceof CriteriaSyntaxError &&
        error.sli === "latency" &&
        error.message.includes('"<=200ms"'),
    );
  });

  it("reports the comparison it applied, with Keptn's defaults for a block with missing fields", () => {
    const evaluation = evaluateSlo({ comparison: {}, objectives: [{ sli: "a" }] }, { a: 1 });
    assert.deepEqual(evaluation.comparison, {
      compareWith: "several_results",
      numberOfComparisonResults: 3,
      includeResultWithScore: "all",
      aggregateFunction: "avg",
      comparedIndexes: [],
    });
  });

  it("carries Keptn's indicatorResults fields for each objective", () => {
    const evaluation = evaluateSlo(
      {
        objectives: [{ sli: "a", displayName: "A", pass: [{ criteria: ["<10"] }], key_sli: true, weight: 2 }],
      },
      { a: 1 },
    );
    assert.deepEqual(evaluation.objectives[0], {
      sli: "a",
      displayName: "A",
      status: "pass",
      score: 2,
      weight: 2,
      keySli: true,
      value: { metric: "a", value: 1, success: true, message: "" },
      passTargets: [target("<10", 10, false)],
      warningTargets: [],
    });
  });
});

describe("aggregate", () => {
  // Keptn's TestCalculatePercentile cases.
  const values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it("gives the median of 0..10 as 5", () => assert.equal(aggregate(values, "p50"), 5));
  it("interpolates p90 of 0..10 to 9.8", () => assert.ok(Math.abs(aggregate(values, "p90") - 9.8) < 1e-12));
  it("clamps p95 of 0..10 to the largest value", () => assert.equal(aggregate(values, "p95"), 10));
  it("clamps a percentile of one value to that value", () => assert.equal(aggregate([7], "p50"), 7));
  it("averages", () => assert.equal(aggregate([1, 2, 6], "avg"), 3));
  it("gives NaN for no values", () => assert.ok(Number.isNaN(aggregate([], "p90"))));

  it("picks the same percentile as sorting would, ties included", () => {
    let state = 1;
    const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) % 10;
    for (let round = 0; round < 500; round++) {
      const sample = Array.from({ length: 1 + (round % 40) }, next);
      const sorted = [...sample].sort((a, b) => a - b);
      for (const [fn, fraction] of [
        ["p50", 0.5],
        ["p90", 0.9],
        ["p95", 0.95],
      ] as const) {
        const position = fraction * (sorted.length + 1);
        const whole = Math.floor(position);
        const expected =
          position < 1
            ? sorted[0]!
            : position >= sorted.length
              ? sorted[sorted.length - 1]!
              : sorted[whole - 1]! + (position - whole) * (sorted[whole]! - sorted[whole - 1]!);
        assert.equal(aggregate(sample, fn), expected, `${fn} of ${sample.join(",")}`);
      }
    }
  });

  it("leaves its input in order", () => {
    const sample = [5, 1, 4, 2, 3];
    aggregate(sample, "p50");
    assert.deepEqual(sample, [5, 1, 4, 2, 3]);
  });
});

describe("the pipeline's significance layer over Keptn's relative criteria", () => {
  const slo: SloSpec = {
    objectives: [
      { sli: "latency_p95", pass: [{ criteria: ["<=+10%"] }] },
      { sli: "error_rate", pass: [{ criteria: ["<1"] }] },
    ],
    total_score: { pass: "90%", warning: "75%" },
  };
  const previous = [{ result: "pass" as const, values: { latency_p95: 100, error_rate: 0 } }];
  const cases: Array<{
    name: string;
    value: number;
    decision?: RelativeDecision;
    status: string;
    result: string;
  }> = [
    {
      name: "without the layer a value past the target fails, as in Keptn",
      value: 115,
      status: "fail",
      result: "fail",
    },
    {
      name: "a value past the target that the samples show within it passes",
      value: 115,
      decision: "holds",
      status: "pass",
      result: "pass",
    },
    {
      name: "a value inside the target that the samples show past it fails",
      value: 105,
      decision: "violated",
      status: "fail",
      result: "fail",
    },
    {
      name: "an undecided criterion is a warning, never a pass",
      value: 115,
      decision: "undecided",
      status: "warning",
      result: "warning",
    },
  ];
  for (const { name, value, decision, status, result } of cases) {
    it(name, () => {
      const judge = decision === undefined ? undefined : () => ({ decision, reason: `decided ${decision}` });
      const evaluation = evaluateSlo(slo, { latency_p95: value, error_rate: 0 }, previous, judge);
      assert.equal(evaluation.objectives[0]?.status, status);
      assert.equal(evaluation.result, result);
    });
  }

  it("an undecided criterion says why, and the target carries the decision", () => {
    const evaluation = evaluateSlo(slo, { latency_p95: 115, error_rate: 0 }, previous, () => ({
      decision: "undecided",
      reason: "inconclusive: an interval straddles the bound +10%",
    }));
    const latency = evaluation.objectives[0];
    assert.equal(latency?.inconclusive, "<=+10%: inconclusive: an interval straddles the bound +10%");
    assert.deepEqual(latency?.passTargets[0]?.judged, {
      decision: "undecided",
      reason: "inconclusive: an interval straddles the bound +10%",
    });
  });

  it("a fixed criterion is never handed to the layer", () => {
    const asked: string[] = [];
    evaluateSlo(slo, { latency_p95: 115, error_rate: 0 }, previous, ({ criteria }) => {
      asked.push(criteria);
      return undefined;
    });
    assert.deepEqual(asked, ["<=+10%"]);
  });
});
