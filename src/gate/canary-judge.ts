/**
 * The canary judge: Kayenta's Mann-Whitney classifier for one metric, and its weighted scorer for
 * metric groups. A metric is High or Low when the whole confidence interval of the shift
 * canary − baseline lies beyond a tolerance band of ±tolerance·|estimate| and the effect size is
 * large enough; otherwise it passes.
 */
import { commonLanguageEffectSize, meanRatio, seededGaussian, wilcoxonRankSumTest } from "./statistics.js";

export type Classification = "Pass" | "High" | "Low" | "Nodata" | "NodataFailMetric";
export type Direction = "either" | "increase" | "decrease";
export type EffectSizeMeasure = "mean-ratio" | "cles";
export type NanStrategy = "remove" | "replace";

export interface JudgeOptions {
  /** Which change fails the metric: a rise (increase), a fall (decrease), or both (either) */
  direction: Direction;
  confidence: number;
  /** The band around zero the interval must clear, as a fraction of |estimate| */
  tolerance: number;
  effectSize: EffectSizeMeasure;
  /** The effect size a High must reach (mean ratio, or CLES) */
  allowedIncrease: number;
  /** The effect size a Low must fall to */
  allowedDecrease: number;
  /** For a critical metric: the effect size from which a High fails the whole canary */
  criticalIncrease: number;
  criticalDecrease: number;
  /** A failure of this metric fails the whole canary */
  critical: boolean;
  /** Missing data fails the metric (NodataFailMetric) instead of leaving it out */
  requireData: boolean;
  /** NaN (null) values are removed, or replaced by 0 for counts where no data means none happened */
  nanStrategy: NanStrategy;
}

export interface MetricJudgement {
  classification: Classification;
  /** This result fails the whole canary */
  critical: boolean;
  /** Shift canary − baseline; NaN when no test was needed */
  estimate: number;
  ci: [number, number];
  pValue: number;
  /** Mean ratio canary/baseline or CLES, from the samples as given (after NaN handling) */
  effectSize: number;
  reason: string;
}

/** Kayenta's defaults. The effect-size thresholds default to "no effect" on the chosen measure. */
export function judgeOptions(overrides: Partial<JudgeOptions> = {}): JudgeOptions {
  const effectSize = overrides.effectSize ?? "mean-ratio";
  const noEffect = effectSize === "cles" ? 0.5 : 1;
  return {
    direction: overrides.direction ?? "either",
    confidence: overrides.confidence ?? 0.98,
    tolerance: overrides.tolerance ?? 0.25,
    effectSize,
    allowedIncrease: overrides.allowedIncrease ?? noEffect,
    allowedDecrease: overrides.allowedDecrease ?? noEffect,
    criticalIncrease: overrides.criticalIncrease ?? noEffect,
    criticalDecrease: overrides.criticalDecrease ?? noEffect,
    critical: overrides.critical ?? false,
    requireData: overrides.requireData ?? false,
    nanStrategy: overrides.nanStrategy ?? "remove",
  };
}

/** Classifies one metric. `null` and NaN values are missing data points. */
export function judgeMetric(
  baseline: readonly (number | null)[],
  canary: readonly (number | null)[],
  overrides: Partial<JudgeOptions> = {},
): MetricJudgement {
  const options = judgeOptions(overrides);
  const control = withoutNaNs(baseline, options.nanStrategy);
  const experiment = withoutNaNs(canary, options.nanStrategy);
  const untested = {
    estimate: Number.NaN,
    ci: [Number.NaN, Number.NaN] as [number, number],
    pValue: Number.NaN,
  };

  if (control.length === 0 || experiment.length === 0) {
    const missing = describeMissing(control.length === 0, experiment.length === 0);
    if (options.nanStrategy === "replace") {
      return {
        ...untested,
        classification: "Pass",
        critical: false,
        effectSize: Number.NaN,
        reason: `${missing}; with nan-strategy replace that is no difference`,
      };
    }
    if (options.requireData && !options.critical) {
      return {
        ...untested,
        classification: "NodataFailMetric",
        critical: false,
        effectSize: Number.NaN,
        reason: `${missing}, and the metric requires data`,
      };
    }
    return {
      ...untested,
      classification: "Nodata",
      critical: options.critical,
      effectSize: Number.NaN,
      reason: missing,
    };
  }

  const effectSize =
    options.effectSize === "cles"
      ? commonLanguageEffectSize(control, experiment)
      : meanRatio(control, experiment);
  if (sameValues(control, experiment)) {
    return {
      ...untested,
      classification: "Pass",
      critical: false,
      effectSize,
      reason: "the canary and baseline data are identical",
    };
  }
  const canaryConstant = isConstant(experiment);
  const baselineConstant = isConstant(control);
  if (canaryConstant && baselineConstant && experiment[0] === control[0]) {
    return {
      ...untested,
      classification: "Pass",
      critical: false,
      effectSize,
      reason: "every value in both samples is the same",
    };
  }

  // When both samples are constant every possible shift is one value, which the interval search
  // cannot bracket, so Kayenta adds noise of 1e-5 of the value first. It is seeded here so the same
  // input always gets the same verdict.
  const noise = seededGaussian(0x5eed);
  const testedCanary = canaryConstant && baselineConstant ? jitter(experiment, noise) : experiment;
  const testedBaseline = canaryConstant && baselineConstant ? jitter(control, noise) : control;
  const test = wilcoxonRankSumTest(testedCanary, testedBaseline, {
    confidence: options.confidence,
    rootTolerance: rootToleranceFor(testedCanary, testedBaseline),
  });
  const tested = { estimate: test.estimate, ci: test.ci, pValue: test.pValue };

  const band = options.tolerance * Math.abs(test.estimate);
  const unknownEffect = Number.isNaN(effectSize);
  const interval = `the ${formatPercent(options.confidence)} interval [${format(test.ci[0])}, ${format(test.ci[1])}]`;
  const high =
    options.direction !== "decrease" &&
    test.ci[0] > band &&
    (unknownEffect || effectSize >= options.allowedIncrease);
  if (high) {
    const critical = options.critical && (unknownEffect || effectSize >= options.criticalIncrease);
    return {
      ...tested,
      classification: "High",
      critical,
      effectSize,
      reason: `the canary is higher: ${interval} lies above ${format(band)}${critical ? " (critical)" : ""}`,
    };
  }
  const low =
    options.direction !== "increase" &&
    test.ci[1] < -band &&
    (unknownEffect || effectSize <= options.allowedDecrease);
  if (low) {
    const critical = options.critical && (unknownEffect || effectSize <= options.criticalDecrease);
    return {
      ...tested,
      classification: "Low",
      critical,
      effectSize,
      reason: `the canary is lower: ${interval} lies below ${format(-band)}${critical ? " (critical)" : ""}`,
    };
  }
  return {
    ...tested,
    classification: "Pass",
    critical: false,
    effectSize,
    reason: passReason(options, test.ci, band),
  };
}

function withoutNaNs(values: readonly (number | null)[], strategy: NanStrategy): number[] {
  const result: number[] = [];
  for (const value of values) {
    if (value !== null && !Number.isNaN(value)) result.push(value);
    else if (strategy === "replace") result.push(0);
  }
  return result;
}

function describeMissing(baselineEmpty: boolean, canaryEmpty: boolean): string {
  if (baselineEmpty && canaryEmpty) return "neither the canary nor the baseline has data";
  return baselineEmpty ? "the baseline has no data" : "the canary has no data";
}

function sameValues(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const sortedA = Float64Array.from(a).sort();
  const sortedB = Float64Array.from(b).sort();
  return sortedA.every((value, index) => value === sortedB[index]);
}

function isConstant(values: readonly number[]): boolean {
  return values.every((value) => value === values[0]);
}

function jitter(values: readonly number[], noise: () => number): number[] {
  const scale = Math.abs(values[0]!) * 1e-5;
  return values.map((value) => value + noise() * scale);
}

/**
 * R's root finder stops within 1e-4 absolute, which is coarse for metrics measured in small units
 * (seconds, fractions). The tolerance is tightened to a millionth of the largest possible shift;
 * from shifts of 100 upwards it is R's, and the results are R's.
 */
function rootToleranceFor(canary: readonly number[], baseline: readonly number[]): number {
  const [canaryLow, canaryHigh] = extremes(canary);
  const [baselineLow, baselineHigh] = extremes(baseline);
  const largestShift = Math.max(Math.abs(canaryLow - baselineHigh), Math.abs(canaryHigh - baselineLow));
  return Math.min(1e-4, largestShift * 1e-6);
}

function extremes(values: readonly number[]): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  return [low, high];
}

function passReason(options: JudgeOptions, ci: [number, number], band: number): string {
  const beyondHigh = options.direction !== "decrease" && ci[0] > band;
  const beyondLow = options.direction !== "increase" && ci[1] < -band;
  if (beyondHigh)
    return `the canary is higher, but the effect size is below the allowed increase ${options.allowedIncrease}`;
  if (beyondLow)
    return `the canary is lower, but the effect size is above the allowed decrease ${options.allowedDecrease}`;
  const ignored =
    (options.direction === "increase" && ci[1] < -band) || (options.direction === "decrease" && ci[0] > band);
  if (ignored) return `the canary differs only in the direction that is allowed (${options.direction} fails)`;
  return `no significant difference: the ${formatPercent(options.confidence)} interval [${format(ci[0])}, ${format(ci[1])}] reaches within ±${format(band)}`;
}

/** The result of one metric, as the scorer needs it. */
export interface GroupedJudgement {
  classification: Classification;
  critical: boolean;
  /** The metric groups this metric belongs to */
  groups: readonly string[];
  reason?: string;
}

export interface GroupWeight {
  name: string;
  /** Percent of the total score; groups without a weight share what the listed weights leave of 100 */
  weight: number;
}

export interface ScoreThresholds {
  pass: number;
  marginal: number;
}

export interface GroupScore {
  name: string;
  /** 0–100: the share of the group's judged metrics that passed */
  score: number;
  /** No metric of the group could be judged; the group then counts as 100 */
  noData: boolean;
}

export interface CanaryScore {
  /** 0–100, rounded to two decimals */
  score: number;
  classification: "pass" | "marginal" | "fail";
  groups: GroupScore[];
  reason: string;
}

/** Kayenta's share of Nodata metrics at which the whole canary fails. */
const nodataFailurePercent = 50;

/** Scores metric results by group, weighted as Kayenta's WeightedSumScorer. */
export function scoreGroups(
  results: readonly GroupedJudgement[],
  groups: readonly GroupWeight[],
  thresholds: ScoreThresholds,
): CanaryScore {
  const groupScores = scoreEachGroup(results);
  const classify = (score: number): CanaryScore["classification"] =>
    score >= thresholds.pass ? "pass" : score >= thresholds.marginal ? "marginal" : "fail";

  const criticalFailure = results.find((result) => result.critical && result.classification !== "Pass");
  if (criticalFailure !== undefined) {
    const why = criticalFailure.reason === undefined ? "" : `: ${criticalFailure.reason}`;
    return {
      score: 0,
      classification: classify(0),
      groups: groupScores,
      reason: `a critical metric failed${why}`,
    };
  }
  const nodata = results.filter((result) => result.classification === "Nodata").length;
  if (results.length > 0 && (nodata / results.length) * 100 >= nodataFailurePercent) {
    return {
      score: 0,
      classification: classify(0),
      groups: groupScores,
      reason: `${nodataFailurePercent}% or more of the metrics have no data`,
    };
  }

  const listed = new Map(groups.map((group) => [group.name, group.weight]));
  const listedTotal = groups.reduce((sum, group) => sum + group.weight, 0);
  const unlisted = groupScores.filter((group) => !listed.has(group.name)).length;
  const sharedWeight = unlisted > 0 ? (100 - listedTotal) / unlisted : 0;
  let score = 0;
  for (const group of groupScores) {
    const weight = listed.get(group.name) ?? sharedWeight;
    score += (group.noData ? 100 : group.score) * (weight / 100);
  }
  score = roundHalfUp(score, 2);
  const classification = classify(score);
  return {
    score,
    classification,
    groups: groupScores,
    reason: `score ${score} against pass ${thresholds.pass} and marginal ${thresholds.marginal}`,
  };
}

function scoreEachGroup(results: readonly GroupedJudgement[]): GroupScore[] {
  const byGroup = new Map<string, Classification[]>();
  for (const result of results) {
    for (const group of result.groups) {
      const labels = byGroup.get(group) ?? [];
      labels.push(result.classification);
      byGroup.set(group, labels);
    }
  }
  return [...byGroup].map(([name, labels]) => {
    // Nodata metrics are left out; a metric that required data counts as a failure.
    const judged = labels.filter((label) => label !== "Nodata").length;
    const passed = labels.filter((label) => label === "Pass").length;
    return judged === 0
      ? { name, score: 0, noData: true }
      : { name, score: (passed / judged) * 100, noData: false };
  });
}

/** Rounds half away from zero on the decimal the number prints as, as Kayenta's MathUtils.round does. */
function roundHalfUp(value: number, decimals: number): number {
  const magnitude = Math.abs(value);
  const printed = String(magnitude);
  const rounded = printed.includes("e")
    ? Math.round(magnitude * 10 ** decimals) / 10 ** decimals
    : Math.round(Number(`${printed}e${decimals}`)) / 10 ** decimals;
  return Math.sign(value) * rounded;
}

function format(value: number): string {
  return String(Number(value.toPrecision(4)));
}

function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(6))}%`;
}
