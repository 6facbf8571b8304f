import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixturesDir } from "../testing/paths.js";
import {
  brentRoot,
  commonLanguageEffectSize,
  meanRatio,
  seededGaussian,
  standardNormalCdf,
  standardNormalQuantile,
  wilcoxonRankSumTest,
} from "./statistics.js";

interface WilcoxCase {
  name: string;
  confidence: number;
  canary: number[];
  baseline: number[];
  statistic: number;
  pValue: number;
  estimate: number;
  ci: [number, number];
}

interface Vectors {
  generator: string;
  pnorm: { x: number; p: number }[];
  qnorm: { p: number; x: number }[];
  cases: WilcoxCase[];
}

// Made by test/fixtures/gate/make-wilcox-vectors.R.
const vectors = JSON.parse(readFileSync(join(fixturesDir, "gate", "wilcox-vectors.json"), "utf8")) as Vectors;

function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} is not within ${tolerance} of ${expected}`,
  );
}

describe("wilcoxonRankSumTest against R's wilcox.test", () => {
  for (const vector of vectors.cases) {
    it(`matches R for ${vector.name}`, () => {
      const result = wilcoxonRankSumTest(vector.canary, vector.baseline, { confidence: vector.confidence });
      // R's root finder stops within 1e-4; following its exact steps lands on R's very point, so the
      // check is far tighter: a billionth of the data's scale.
      const scale = Math.max(...[...vector.canary, ...vector.baseline].map(Math.abs));
      const tolerance = 1e-9 * scale;
      assert.equal(result.statistic, vector.statistic);
      assertClose(result.estimate, vector.estimate, tolerance, "estimate");
      assertClose(result.ci[0], vector.ci[0], tolerance, "lower bound");
      assertClose(result.ci[1], vector.ci[1], tolerance, "upper bound");
      assertClose(result.pValue, vector.pValue, 1e-12 + 1e-9 * vector.pValue, "p-value");
    });
  }

  it("gives no p-value, estimate or interval when every observation is tied", () => {
    const result = wilcoxonRankSumTest([3, 3], [3, 3, 3]);
    assert.ok([result.pValue, result.estimate, ...result.ci].every(Number.isNaN));
  });

  it("refuses an empty sample", () => {
    assert.throws(() => wilcoxonRankSumTest([], [1]), RangeError);
  });
});

describe("the standard normal distribution against R", () => {
  for (const { x, p } of vectors.pnorm) {
    it(`Φ(${x}) = ${p}`, () => assertClose(standardNormalCdf(x), p, 1e-300 + 1e-13 * p, "pnorm"));
  }
  for (const { p, x } of vectors.qnorm) {
    it(`Φ⁻¹(${p}) = ${x}`, () =>
      assertClose(standardNormalQuantile(p), x, 1e-13 * Math.max(1, Math.abs(x)), "qnorm"));
  }
});

describe("brentRoot", () => {
  it("finds √2 within the tolerance", () => {
    const f = (x: number) => x * x - 2;
    const root = brentRoot(f, 0, 2, { valueAtLower: f(0), valueAtUpper: f(2), tolerance: 1e-10 });
    assertClose(root, Math.SQRT2, 1e-10, "root");
  });
  it("returns an end point where the function is already zero", () => {
    assert.equal(
      brentRoot((x) => x, 0, 1, { valueAtLower: 0, valueAtUpper: 1, tolerance: 1e-4 }),
      0,
    );
  });
});

describe("effect sizes", () => {
  it("gives the mean ratio canary / baseline", () => assert.equal(meanRatio([1, 3], [4, 4]), 2));
  it("gives no mean ratio when the baseline mean is zero", () =>
    assert.ok(Number.isNaN(meanRatio([0, 0], [1]))));
  it("gives no mean ratio when the canary mean is zero", () =>
    assert.ok(Number.isNaN(meanRatio([1], [-1, 1]))));
  it("counts ties as half in the common-language effect size", () => {
    // Pairs canary > baseline: 2>1, 3>1, 3>2, and 2=2 counts half: 3.5 of 4.
    assert.equal(commonLanguageEffectSize([1, 2], [2, 3]), 0.875);
  });
  it("gives 0.5 for identical samples", () =>
    assert.equal(commonLanguageEffectSize([1, 2, 3], [3, 2, 1]), 0.5));
});

describe("seededGaussian", () => {
  it("repeats the same deviates for the same seed", () => {
    const first = seededGaussian(42);
    const second = seededGaussian(42);
    for (let i = 0; i < 5; i++) assert.equal(first(), second());
  });
  it("has mean 0 and standard deviation 1", () => {
    const draw = seededGaussian(7);
    const values = Array.from({ length: 20000 }, draw);
    const average = values.reduce((sum, value) => sum + value, 0) / values.length;
    const sd = Math.sqrt(values.reduce((sum, value) => sum + (value - average) ** 2, 0) / values.length);
    assertClose(average, 0, 0.03, "mean");
    assertClose(sd, 1, 0.03, "standard deviation");
  });
});
