/**
 * SLO evaluation: Keptn's lighthouse algorithm, so a Keptn slo.yaml gives the same verdict here.
 * Read top to bottom: defaults, choosing the baseline, one objective, then the total score.
 * Result fields carry Keptn's `indicatorResults` names.
 *
 * `waybill evaluate` runs exactly this. The pipeline may pass `judgeRelative`, its significance
 * layer (paired-comparison.ts), which decides whether a relative criterion holds on evidence
 * rather than on one value against another; the scoring stays Keptn's.
 */
import type { SloSpec } from "../spec/schema.js";
import { compare, CriteriaSyntaxError, parseCriteria, relativeTarget, type Criterion } from "./criteria.js";
import type { RelativeDecision } from "./paired-comparison.js";

export type EvaluationResult = "pass" | "warning" | "fail";
export type ObjectiveStatus = EvaluationResult | "info";
export type CompareWith = "single_result" | "several_results";
export type ResultFilter = "all" | "pass" | "pass_or_warn";
export type AggregateFunction = "avg" | "p50" | "p90" | "p95";

/** An earlier evaluation of the same service and stage. */
export interface PreviousEvaluation {
  result: EvaluationResult;
  values: Record<string, number | null>;
}

/** Keptn's SLIResult. A missing value has `success: false` and value 0, as in Keptn. */
export interface SliResult {
  metric: string;
  value: number;
  success: boolean;
  message: string;
  /** The aggregate of the earlier values that relative criteria were measured against */
  comparedValue?: number;
}

export interface CriterionTarget {
  criteria: string;
  /** The threshold the value was compared with; 0 for a relative criterion with no earlier values */
  targetValue: number;
  violated: boolean;
  /** Set when the pipeline's significance layer decided this relative criterion, with why */
  judged?: { decision: RelativeDecision; reason: string };
}

/** Decides a relative criterion instead of the plain comparison; undefined leaves it to Keptn's. */
export type RelativeJudge = (input: {
  sli: string;
  criteria: string;
  criterion: Extract<Criterion, { kind: "relative" }>;
  measured: number;
  target: number;
  baseline: number;
}) => { decision: RelativeDecision; reason: string } | undefined;

export interface ObjectiveResult {
  sli: string;
  displayName: string;
  status: ObjectiveStatus;
  score: number;
  weight: number;
  keySli: boolean;
  value: SliResult;
  passTargets: CriterionTarget[];
  warningTargets: CriterionTarget[];
  /** A warning because a relative criterion stayed undecided, with why */
  inconclusive?: string;
}

/** The comparison settings actually applied, and which earlier evaluations formed the baseline. */
export interface Comparison {
  compareWith: CompareWith;
  numberOfComparisonResults: number;
  includeResultWithScore: ResultFilter;
  aggregateFunction: AggregateFunction;
  /** Indexes into `previous` (newest first) of the evaluations compared with */
  comparedIndexes: number[];
}

export interface Evaluation {
  result: EvaluationResult;
  /** 0–100 */
  score: number;
  message: string;
  objectives: ObjectiveResult[];
  comparison: Comparison;
  /** The percentages the score was judged against */
  totalScore: { pass: number; warning?: number };
}

/** Keptn's total_score when an slo.yaml has none. */
const defaultTotalScore = { pass: "90%", warning: "75%" };

/**
 * Evaluates the SLIs of one run against an SLO and the earlier evaluations (newest first).
 * Throws CriteriaSyntaxError when a criteria string cannot be read, as Keptn refuses such a file.
 */
export function evaluateSlo(
  slo: SloSpec | undefined,
  values: Readonly<Record<string, number | null | undefined>>,
  previous: readonly PreviousEvaluation[] = [],
  judgeRelative?: RelativeJudge,
): Evaluation {
  const settings = comparisonSettings(slo?.comparison);
  const totalScore = totalScoreTargets(slo?.total_score ?? defaultTotalScore);
  if (slo === undefined) {
    return {
      result: "pass",
      score: 0,
      message: "no SLO was given, so nothing was evaluated",
      objectives: [],
      comparison: { ...settings, comparedIndexes: [] },
      totalScore,
    };
  }
  const objectives = slo.objectives ?? [];
  if (objectives.length === 0) {
    return {
      result: "fail",
      score: 0,
      message: "no SLO objective was provided",
      objectives: [],
      comparison: { ...settings, comparedIndexes: [] },
      totalScore,
    };
  }

  const comparedIndexes = chooseBaseline(previous, settings);
  const compared = comparedIndexes.map((index) => previous[index]!);
  const earlier = earlierValuesBySli(
    compared,
    objectives.map((objective) => objective.sli),
  );
  const results = objectives.map((objective, index) =>
    evaluateObjective(objective, values[objective.sli], earlier[index]!, settings, judgeRelative),
  );
  const comparison = { ...settings, comparedIndexes };

  // Only objectives with pass criteria count toward the maximum; the others are info only.
  const maximum = results.reduce((sum, result) => (result.status === "info" ? sum : sum + result.weight), 0);
  if (maximum === 0) {
    return {
      result: "pass",
      score: 100,
      message: "every objective is info only, so the evaluation passes",
      objectives: results,
      comparison,
      totalScore,
    };
  }
  const achieved = results.reduce((sum, result) => sum + result.score, 0);
  const score = 100 * (achieved / maximum);
  const failedKeySlis = results.filter((result) => result.keySli && result.status === "fail");
  return { ...verdict(score, totalScore, failedKeySlis), objectives: results, comparison, totalScore };
}

type Settings = Omit<Comparison, "comparedIndexes">;

function comparisonSettings(block: SloSpec["comparison"]): Settings {
  if (block === undefined) {
    return {
      compareWith: "single_result",
      numberOfComparisonResults: 1,
      includeResultWithScore: "all",
      aggregateFunction: "avg",
    };
  }
  // Keptn compares with 3 results unless compare_with says otherwise, even when
  // number_of_comparison_results is set: that number only counts for several_results.
  const numberOfComparisonResults =
    block.compare_with === "single_result"
      ? 1
      : block.compare_with === "several_results"
        ? (block.number_of_comparison_results ?? 3)
        : 3;
  return {
    compareWith: block.compare_with ?? "several_results",
    numberOfComparisonResults,
    includeResultWithScore: block.include_result_with_score ?? "all",
    aggregateFunction: block.aggregate_function ?? "avg",
  };
}

/** Keep the earlier evaluations whose result the filter admits, then the N newest of those. */
function chooseBaseline(previous: readonly PreviousEvaluation[], settings: Settings): number[] {
  const admitted: Record<ResultFilter, ReadonlySet<EvaluationResult>> = {
    all: new Set(["pass", "warning", "fail"]),
    pass: new Set(["pass"]),
    pass_or_warn: new Set(["pass", "warning"]),
  };
  const indexes: number[] = [];
  for (let index = 0; index < previous.length; index++) {
    if (indexes.length === settings.numberOfComparisonResults) break;
    if (admitted[settings.includeResultWithScore].has(previous[index]!.result)) indexes.push(index);
  }
  return indexes;
}

/**
 * Each SLI's values in the compared evaluations; one without a value for the SLI is left out of
 * that SLI's baseline. The evaluations are read one at a time: with many SLIs, reading one large
 * object after another is several times faster than visiting every object once per SLI.
 */
function earlierValuesBySli(
  compared: readonly PreviousEvaluation[],
  slis: readonly string[],
): Float64Array[] {
  const found = slis.map(() => new Float64Array(compared.length));
  const counts = new Uint32Array(slis.length);
  for (const { values } of compared) {
    for (let row = 0; row < slis.length; row++) {
      const value = values[slis[row]!];
      if (typeof value === "number" && Number.isFinite(value)) found[row]![counts[row]!++] = value;
    }
  }
  return found.map((row, index) => row.subarray(0, counts[index]));
}

type Objective = NonNullable<SloSpec["objectives"]>[number];

function evaluateObjective(
  objective: Objective,
  reported: number | null | undefined,
  earlier: Float64Array,
  settings: Settings,
  judgeRelative: RelativeJudge | undefined,
): ObjectiveResult {
  const passSets = parseCriteriaSets(objective.sli, objective.pass);
  const warningSets = parseCriteriaSets(objective.sli, objective.warning);
  const measured = typeof reported === "number" && Number.isFinite(reported) ? reported : undefined;
  const baseline = earlier.length > 0 ? aggregate(earlier, settings.aggregateFunction) : undefined;
  const judge = judgeRelative === undefined ? undefined : { sli: objective.sli, decide: judgeRelative };
  const pass = evaluateCriteriaSets(passSets, measured, baseline, judge);
  const warning = evaluateCriteriaSets(warningSets, measured, baseline, judge);
  // Keptn reads a weight of 0 as unset, and unset as 1.
  const weight = objective.weight || 1;

  let status: ObjectiveStatus;
  let inconclusive: string | undefined;
  if (passSets.length === 0) status = "info";
  else if (measured === undefined) status = "fail";
  else if (pass.satisfied) status = "pass";
  else if (pass.satisfiedIfUndecidedHeld) {
    // Neither shown to hold nor to be violated within the time the test had: a warning, never a pass.
    status = "warning";
    inconclusive = pass.targets
      .filter((target) => target.judged?.decision === "undecided")
      .map((target) => `${target.criteria}: ${target.judged?.reason ?? ""}`)
      .join("; ");
  } else if (warningSets.length > 0 && warning.satisfied) status = "warning";
  else status = "fail";

  const value: SliResult = {
    metric: objective.sli,
    value: measured ?? 0,
    success: measured !== undefined,
    message: measured === undefined ? "no value received from SLI provider" : "",
  };
  if (baseline !== undefined) value.comparedValue = baseline;
  return {
    sli: objective.sli,
    displayName: objective.displayName ?? "",
    status,
    score: status === "pass" ? weight : status === "warning" ? weight / 2 : 0,
    weight,
    keySli: objective.key_sli ?? false,
    value,
    passTargets: pass.targets,
    warningTargets: warning.targets,
    ...(inconclusive === undefined ? {} : { inconclusive }),
  };
}

interface ParsedSet {
  text: string;
  criterion: Criterion;
}

function parseCriteriaSets(sli: string, sets: Objective["pass"]): ParsedSet[][] {
  return (sets ?? []).map((set) =>
    set.criteria.map((text) => {
      try {
        return { text, criterion: parseCriteria(text) };
      } catch (error) {
        if (error instanceof CriteriaSyntaxError) throw new CriteriaSyntaxError(text, error.reason, sli);
        throw error;
      }
    }),
  );
}

/**
 * The criteria within a set must all hold (AND); one set holding is enough (OR). An undecided
 * criterion counts as violated; `satisfiedIfUndecidedHeld` says whether it alone stood in the way.
 */
function evaluateCriteriaSets(
  sets: readonly ParsedSet[][],
  measured: number | undefined,
  baseline: number | undefined,
  judge: { sli: string; decide: RelativeJudge } | undefined,
): { satisfied: boolean; satisfiedIfUndecidedHeld: boolean; targets: CriterionTarget[] } {
  let satisfied = false;
  let satisfiedIfUndecidedHeld = false;
  const targets: CriterionTarget[] = [];
  // Every set is evaluated, even after one holds, so each target reports whether it was violated.
  for (const set of sets) {
    let setHolds = true;
    let setHoldsIfUndecidedHeld = true;
    for (const { text, criterion } of set) {
      const target = evaluateCriterion(text, criterion, measured, baseline, judge);
      if (target.violated) setHolds = false;
      if (target.violated && target.judged?.decision !== "undecided") setHoldsIfUndecidedHeld = false;
      targets.push(target);
    }
    if (setHolds) satisfied = true;
    if (setHoldsIfUndecidedHeld) satisfiedIfUndecidedHeld = true;
  }
  return { satisfied, satisfiedIfUndecidedHeld, targets };
}

function evaluateCriterion(
  text: string,
  criterion: Criterion,
  measured: number | undefined,
  baseline: number | undefined,
  judge: { sli: string; decide: RelativeJudge } | undefined,
): CriterionTarget {
  if (criterion.kind === "fixed") {
    const holds = measured !== undefined && compare(measured, criterion.operator, criterion.threshold);
    return { criteria: text, targetValue: criterion.threshold, violated: !holds };
  }
  // With nothing to compare with, a relative criterion passes (Keptn reports target 0).
  if (baseline === undefined) return { criteria: text, targetValue: 0, violated: measured === undefined };
  const targetValue = relativeTarget(criterion, baseline);
  const judged =
    measured === undefined || judge === undefined
      ? undefined
      : judge.decide({ sli: judge.sli, criteria: text, criterion, measured, target: targetValue, baseline });
  if (judged !== undefined)
    return { criteria: text, targetValue, violated: judged.decision !== "holds", judged };
  const holds = measured !== undefined && compare(measured, criterion.operator, targetValue);
  return { criteria: text, targetValue, violated: !holds };
}

/** avg, or a percentile interpolated at position p·(n+1) of the sorted values, as Keptn does. */
export function aggregate(values: ArrayLike<number>, fn: AggregateFunction): number {
  if (values.length === 0) return Number.NaN;
  if (fn === "avg") {
    let sum = 0;
    for (let index = 0; index < values.length; index++) sum += values[index]!;
    return sum / values.length;
  }
  const fraction = { p50: 0.5, p90: 0.9, p95: 0.95 }[fn];
  const position = fraction * (values.length + 1);
  const ordered = new Float64Array(values);
  if (position < 1) return ordered.reduce((low, value) => Math.min(low, value));
  if (position >= ordered.length) return ordered.reduce((high, value) => Math.max(high, value));
  const whole = Math.floor(position);
  const lower = selectInPlace(ordered, whole - 1);
  // After selection everything past the lower value is at least as large; the next order statistic
  // is the smallest of those.
  let upper = Infinity;
  for (let index = whole; index < ordered.length; index++) upper = Math.min(upper, ordered[index]!);
  return lower + (position - whole) * (upper - lower);
}

/**
 * The k-th smallest value (0-based), moving it to index k with everything before it no larger and
 * everything after no smaller (Hoare's selection). Linear time where a sort is n·log n: with a
 * thousand objectives each aggregating a hundred earlier values, sorting dominated the evaluation.
 */
function selectInPlace(values: Float64Array, k: number): number {
  let low = 0;
  let high = values.length - 1;
  while (low < high) {
    const pivot = values[(low + high) >> 1]!;
    let i = low;
    let j = high;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swapped = values[i]!;
        values[i] = values[j]!;
        values[j] = swapped;
        i++;
        j--;
      }
    }
    if (k <= j) high = j;
    else if (k >= i) low = i;
    else break;
  }
  return values[k]!;
}

function totalScoreTargets(total: NonNullable<SloSpec["total_score"]>): Evaluation["totalScore"] {
  const percentage = (text: string) => Number(text.replace(/%$/, ""));
  return total.warning === undefined
    ? { pass: percentage(total.pass) }
    : { pass: percentage(total.pass), warning: percentage(total.warning) };
}

function verdict(
  score: number,
  targets: Evaluation["totalScore"],
  failedKeySlis: readonly ObjectiveResult[],
): Pick<Evaluation, "result" | "score" | "message"> {
  const shown = formatScore(score);
  if (failedKeySlis.length > 0) {
    const names = failedKeySlis.map((result) => result.sli).join(", ");
    return { result: "fail", score, message: `key SLI ${names} failed` };
  }
  if (score >= targets.pass) {
    return { result: "pass", score, message: `score ${shown} reaches the pass target ${targets.pass}%` };
  }
  if (targets.warning !== undefined && score >= targets.warning) {
    return {
      result: "warning",
      score,
      message: `score ${shown} is below the pass target ${targets.pass}% but reaches the warning target ${targets.warning}%`,
    };
  }
  const missed =
    targets.warning === undefined ? `pass target ${targets.pass}%` : `warning target ${targets.warning}%`;
  return { result: "fail", score, message: `score ${shown} is below the ${missed}` };
}

function formatScore(score: number): string {
  return String(Math.round(score * 100) / 100);
}
