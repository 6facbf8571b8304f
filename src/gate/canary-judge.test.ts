import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixturesDir } from "../testing/paths.js";
import {
  judgeMetric,
  judgeOptions,
  scoreGroups,
  type Classification,
  type GroupedJudgement,
  type JudgeOptions,
} from "./canary-judge.js";

type SampleName =
  | "normal_10"
  | "normal_10_other"
  | "normal_20"
  | "normal_20_other"
  | "sparse_canary"
  | "sparse_baseline"
  | "small_rates";
const samples = JSON.parse(readFileSync(join(fixturesDir, "gate", "kayenta-samples.json"), "utf8")) as Record<
  SampleName,
  number[]
>;

interface ClassificationCase {
  name: string;
  baseline: readonly (number | null)[];
  canary: readonly (number | null)[];
  options?: Partial<JudgeOptions>;
  classification: Classification;
  critical?: boolean;
}

// Kayenta's own tests run with tolerance 0.10 and confidence 0.95.
const kayenta: Partial<JudgeOptions> = { tolerance: 0.1, confidence: 0.95 };
const highPair = { canary: [20, 22, 21, 25, 30], baseline: [1, 2.2, 1.1, 2.5, 3] };

const cases: ClassificationCase[] = [
  // Kayenta's situations (kayenta-judge ClassifierSuite.scala).
  {
    name: "passes two samples from the same distribution",
    canary: samples.normal_10,
    baseline: samples.normal_10_other,
    options: kayenta,
    classification: "Pass",
  },
  {
    name: "classifies a clearly higher canary as High",
    canary: samples.normal_20,
    baseline: samples.normal_10_other,
    options: kayenta,
    classification: "High",
  },
  {
    name: "classifies a clearly lower canary as Low",
    canary: samples.normal_10,
    baseline: samples.normal_20_other,
    options: kayenta,
    classification: "Low",
  },
  {
    name: "passes a lower canary when only an increase fails",
    canary: samples.normal_10,
    baseline: samples.normal_20_other,
    options: { ...kayenta, direction: "increase" },
    classification: "Pass",
  },
  {
    name: "passes a higher canary when only a decrease fails",
    canary: samples.normal_20,
    baseline: samples.normal_10_other,
    options: { ...kayenta, direction: "decrease" },
    classification: "Pass",
  },
  {
    name: "fails a higher canary when an increase fails, without making it critical",
    canary: samples.normal_20,
    baseline: samples.normal_10_other,
    options: { ...kayenta, direction: "increase" },
    classification: "High",
    critical: false,
  },
  {
    name: "fails a lower canary when a decrease fails",
    canary: samples.normal_10,
    baseline: samples.normal_20_other,
    options: { ...kayenta, direction: "decrease" },
    classification: "Low",
  },
  {
    name: "classifies a sparse error rate that rises as High",
    canary: samples.sparse_canary,
    baseline: samples.sparse_baseline,
    options: kayenta,
    classification: "High",
    critical: false,
  },
  {
    name: "passes a higher canary whose mean ratio stays below the allowed increase",
    canary: samples.sparse_canary,
    baseline: samples.sparse_baseline,
    options: { ...kayenta, allowedDecrease: 1, allowedIncrease: 5 },
    classification: "Pass",
  },
  {
    name: "classifies High when the mean ratio reaches the allowed increase",
    ...highPair,
    options: { ...kayenta, allowedDecrease: 0.8, allowedIncrease: 1.2 },
    classification: "High",
  },
  {
    name: "classifies Low when the mean ratio falls to the allowed decrease",
    canary: samples.normal_10,
    baseline: samples.normal_20_other,
    options: { ...kayenta, direction: "decrease", allowedDecrease: 0.8, allowedIncrease: 1.2 },
    classification: "Low",
  },
  {
    name: "passes a lower canary whose mean ratio stays above the allowed decrease",
    canary: [10, 12.2, 10.1, 12.5, 23],
    baseline: [20, 22, 21, 25, 30],
    options: { ...kayenta, allowedDecrease: 0.5, allowedIncrease: 1 },
    classification: "Pass",
  },
  {
    name: "makes a critical High critical past the critical increase",
    ...highPair,
    options: { ...kayenta, critical: true, criticalDecrease: 1, criticalIncrease: 1.2 },
    classification: "High",
    critical: true,
  },
  {
    name: "makes a critical Low critical past the critical decrease",
    canary: [2, 2, 2, 2, 3],
    baseline: [10, 20.2, 10.1, 20.5, 30],
    options: { ...kayenta, critical: true, criticalDecrease: 1.2, criticalIncrease: 1 },
    classification: "Low",
    critical: true,
  },
  {
    name: "keeps a critical metric's High non-critical below the critical increase",
    ...highPair,
    options: {
      ...kayenta,
      critical: true,
      allowedDecrease: 1,
      allowedIncrease: 5,
      criticalDecrease: 1,
      criticalIncrease: 13,
    },
    classification: "High",
    critical: false,
  },
  {
    name: "passes a critical metric below the allowed increase",
    ...highPair,
    options: {
      ...kayenta,
      critical: true,
      allowedDecrease: 1,
      allowedIncrease: 13,
      criticalDecrease: 1,
      criticalIncrease: 15,
    },
    classification: "Pass",
    critical: false,
  },
  {
    name: "makes a critical High critical with the default thresholds",
    ...highPair,
    options: { ...kayenta, critical: true },
    classification: "High",
    critical: true,
  },
  {
    name: "passes samples that are all one value",
    canary: [1, 1, 1],
    baseline: [1, 1],
    options: { ...kayenta, direction: "decrease" },
    classification: "Pass",
  },
  {
    name: "passes the same values in another order",
    canary: [1, 2, 3, 4, 5],
    baseline: [5, 4, 3, 2, 1],
    options: { ...kayenta, direction: "decrease" },
    classification: "Pass",
  },
  {
    name: "passes a single lower value among ties",
    canary: [0, 1, 1, 1, 1],
    baseline: [1, 1, 1, 1, 1],
    options: { ...kayenta, direction: "decrease" },
    classification: "Pass",
  },
  {
    name: "passes a single higher value among ties",
    canary: [1, 1, 1, 1, 10],
    baseline: [1, 1, 1, 1, 1],
    options: kayenta,
    classification: "Pass",
  },
  {
    name: "classifies a constant canary above a constant baseline as High",
    canary: [10, 10, 10, 10, 10],
    baseline: [1, 1, 1, 1, 1],
    options: kayenta,
    classification: "High",
  },
  {
    name: "classifies a constant canary above a baseline of zeros as High",
    canary: [10, 10, 10, 10, 10],
    baseline: [0, 0, 0, 0, 0],
    options: kayenta,
    classification: "High",
  },
  {
    name: "marks a metric without canary data Nodata",
    canary: [],
    baseline: [1, 2, 3, 4, 5],
    options: { ...kayenta, direction: "decrease" },
    classification: "Nodata",
    critical: false,
  },
  {
    name: "makes missing data of a critical metric critical",
    canary: [],
    baseline: [1, 2, 3, 4, 5],
    options: { ...kayenta, direction: "decrease", critical: true },
    classification: "Nodata",
    critical: true,
  },
  {
    name: "passes missing data when NaNs are replaced",
    canary: [],
    baseline: [1, 2, 3, 4, 5],
    options: { ...kayenta, direction: "decrease", nanStrategy: "replace" },
    classification: "Pass",
  },
  {
    name: "makes a rise over a baseline of replaced zeros critical, since no effect size can be computed",
    canary: samples.small_rates,
    baseline: Array.from({ length: 10 }, () => null),
    options: {
      ...kayenta,
      nanStrategy: "replace",
      critical: true,
      criticalDecrease: 0.8,
      criticalIncrease: 1.2,
    },
    classification: "High",
    critical: true,
  },

  // Edge cases beyond Kayenta's suite.
  {
    name: "fails a metric that must have data and has none",
    canary: [null, null],
    baseline: [1, 2, 3],
    options: { requireData: true },
    classification: "NodataFailMetric",
    critical: false,
  },
  {
    name: "makes missing data critical, not NodataFailMetric, for a critical metric that must have data",
    canary: [1, 2, 3],
    baseline: [],
    options: { requireData: true, critical: true },
    classification: "Nodata",
    critical: true,
  },
  {
    name: "removes NaNs before judging",
    canary: [null, 20, 22, null, 21, 25, 30],
    baseline: [1, 2.2, null, 1.1, 2.5, 3],
    options: kayenta,
    classification: "High",
  },
  {
    name: "counts NaNs as zeros with nan-strategy replace",
    canary: [null, null, 0],
    baseline: [0, 0, 0],
    options: { nanStrategy: "replace" },
    classification: "Pass",
  },
  {
    name: "classifies High with the common-language effect size and its default threshold of 0.5",
    ...highPair,
    options: { ...kayenta, effectSize: "cles" },
    classification: "High",
  },
  {
    name: "passes when the common-language effect size stays below the allowed increase",
    ...highPair,
    options: { ...kayenta, effectSize: "cles", allowedIncrease: 1.01 },
    classification: "Pass",
  },
  {
    name: "passes a higher canary at Kayenta's default tolerance when the interval reaches into the band",
    canary: [10, 11, 12, 13, 14, 15],
    baseline: [9, 10, 11, 12, 13, 14],
    classification: "Pass",
  },
];

describe("judgeMetric", () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      const judgement = judgeMetric(testCase.baseline, testCase.canary, testCase.options);
      assert.equal(judgement.classification, testCase.classification, judgement.reason);
      if (testCase.critical !== undefined)
        assert.equal(judgement.critical, testCase.critical, judgement.reason);
    });
  }

  it("reports the effect size of the samples as given, not of the noise added to constant samples", () => {
    const judgement = judgeMetric([1, 1, 1, 1, 1], [10, 10, 10, 10, 10]);
    assert.equal(judgement.effectSize, 10);
    assert.ok(Math.abs(judgement.estimate - 9) < 1e-3, `estimate ${judgement.estimate}`);
  });

  it("gives the same answer every time, noise included", () => {
    const first = judgeMetric([1, 1, 1], [2, 2, 2]);
    const second = judgeMetric([1, 1, 1], [2, 2, 2]);
    assert.deepEqual(first, second);
  });

  it("reports the interval of the shift canary − baseline", () => {
    const judgement = judgeMetric(highPair.baseline, highPair.canary);
    assert.equal(judgement.estimate, 20);
    assert.ok(judgement.ci[0] > 16.9 && judgement.ci[0] < 17.1, `lower ${judgement.ci[0]}`);
    assert.ok(judgement.ci[1] > 28.9 && judgement.ci[1] < 29.1, `upper ${judgement.ci[1]}`);
    assert.ok(Math.abs(judgement.pValue - 0.012185780355344811) < 1e-12);
  });

  it("leaves estimate, interval and p-value NaN when no test was needed", () => {
    const judgement = judgeMetric([1, 2], [2, 1]);
    assert.ok(Number.isNaN(judgement.estimate) && Number.isNaN(judgement.pValue));
    assert.ok(judgement.ci.every(Number.isNaN));
  });
});

describe("judgeOptions", () => {
  it("fills Kayenta's defaults", () => {
    assert.deepEqual(judgeOptions(), {
      direction: "either",
      confidence: 0.98,
      tolerance: 0.25,
      effectSize: "mean-ratio",
      allowedIncrease: 1,
      allowedDecrease: 1,
      criticalIncrease: 1,
      criticalDecrease: 1,
      critical: false,
      requireData: false,
      nanStrategy: "remove",
    });
  });
  it("defaults the thresholds to 0.5, no effect, for the common-language effect size", () => {
    const options = judgeOptions({ effectSize: "cles" });
    assert.deepEqual(
      [options.allowedIncrease, options.allowedDecrease, options.criticalIncrease, options.criticalDecrease],
      [0.5, 0.5, 0.5, 0.5],
    );
  });
});

describe("scoreGroups", () => {
  const result = (classification: Classification, groups: string[], critical = false): GroupedJudgement => ({
    classification,
    critical,
    groups,
  });
  const thresholds = { pass: 95, marginal: 75 };

  // Kayenta's situations (kayenta-judge ScorerSuite.scala).
  const table: {
    name: string;
    results: GroupedJudgement[];
    weights?: { name: string; weight: number }[];
    score: number;
  }[] = [
    { name: "scores one passing metric 100", results: [result("Pass", ["g"])], score: 100 },
    { name: "scores one failing metric 0", results: [result("High", ["g"])], score: 0 },
    {
      name: "scores one group of two metrics by the share that passed",
      results: [result("Pass", ["g"]), result("High", ["g"])],
      score: 50,
    },
    {
      name: "rounds the score to two decimals",
      results: [result("Pass", ["g"]), result("High", ["g"]), result("Low", ["g"])],
      score: 33.33,
    },
    {
      name: "weights the groups",
      results: [result("Pass", ["group-1"]), result("Pass", ["group-1"]), result("High", ["group-2"])],
      weights: [
        { name: "group-1", weight: 75 },
        { name: "group-2", weight: 25 },
      ],
      score: 75,
    },
    {
      name: "weights equal groups equally",
      results: [result("Pass", ["group-1"]), result("High", ["group-1"]), result("High", ["group-2"])],
      weights: [
        { name: "group-1", weight: 50 },
        { name: "group-2", weight: 50 },
      ],
      score: 25,
    },
    { name: "scores 0 when the only metric has no data", results: [result("Nodata", ["g"])], score: 0 },
    {
      name: "scores 0 when a critical metric fails",
      results: [result("Pass", ["g"]), result("High", ["g"], true)],
      score: 0,
    },
    {
      name: "ignores criticality of a metric that passed",
      results: [result("Low", ["g"]), result("Pass", ["g"], true)],
      score: 50,
    },
    // Beyond Kayenta's suite.
    {
      name: "counts a metric that required data as a failure",
      results: [result("Pass", ["g"]), result("NodataFailMetric", ["g"])],
      score: 50,
    },
    {
      name: "counts a group whose metrics all lack data as 100",
      results: [result("Pass", ["a"]), result("Pass", ["a"]), result("Nodata", ["b"])],
      score: 100,
    },
    {
      name: "scores 0 when half the metrics have no data",
      results: [result("Pass", ["a"]), result("Nodata", ["b"])],
      score: 0,
    },
    {
      name: "shares the weight left over between groups without one",
      results: [result("High", ["latency"]), result("Pass", ["errors"]), result("Pass", ["saturation"])],
      weights: [{ name: "latency", weight: 50 }],
      score: 50,
    },
    {
      name: "counts a metric in every group it belongs to",
      results: [result("Pass", ["a", "b"]), result("High", ["b"])],
      score: 75,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.equal(scoreGroups(row.results, row.weights ?? [], thresholds).score, row.score);
    });
  }

  it("classifies the score against the pass and marginal thresholds", () => {
    const classify = (passed: number) =>
      scoreGroups(
        Array.from({ length: 100 }, (_, index) => result(index < passed ? "Pass" : "High", ["g"])),
        [],
        thresholds,
      ).classification;
    assert.deepEqual(
      [classify(95), classify(94), classify(75), classify(74)],
      ["pass", "marginal", "marginal", "fail"],
    );
  });

  it("reports each group's score", () => {
    const scored = scoreGroups(
      [result("Pass", ["a"]), result("High", ["b"]), result("Nodata", ["c"])],
      [],
      thresholds,
    );
    assert.deepEqual(scored.groups, [
      { name: "a", score: 100, noData: false },
      { name: "b", score: 0, noData: false },
      { name: "c", score: 0, noData: true },
    ]);
  });
});
