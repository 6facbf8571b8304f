import { readGateInput } from "../gate-input.js";
import {
  judgeMetric,
  judgeOptions,
  type Direction,
  type EffectSizeMeasure,
  type JudgeOptions,
  type MetricJudgement,
  type NanStrategy,
} from "../../gate/canary-judge.js";
import { parseSamples } from "../../gate/inputs.js";
import { defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { filePath, flag, number, oneOf } from "../options.js";
import { table } from "../views.js";

const directions: readonly Direction[] = ["either", "increase", "decrease"];
const effectSizes: readonly EffectSizeMeasure[] = ["mean-ratio", "cles"];
const nanStrategies: readonly NanStrategy[] = ["remove", "replace"];
const effectSizeBound = number({ atLeast: 0 }).optional();

export const judgeCommand = defineCommand({
  name: "judge",
  options: {
    baseline: option(
      "--baseline <file>",
      "the baseline's samples: a JSON array of numbers, null for a missing value",
      filePath,
    ),
    canary: option("--canary <file>", "the canary's samples, in the same form", filePath),
    direction: option(
      "--direction <direction>",
      "which change fails the metric",
      oneOf(directions).optional(),
    ),
    confidence: option(
      "--confidence <level>",
      "confidence level of the interval (default 0.98)",
      number({ above: 0, below: 1 }).optional(),
    ),
    tolerance: option(
      "--tolerance <fraction>",
      "band the interval must clear, as a fraction of |estimate| (default 0.25)",
      number({ atLeast: 0 }).optional(),
    ),
    effectSize: option(
      "--effect-size <measure>",
      "effect size measure (default mean-ratio)",
      oneOf(effectSizes).optional(),
    ),
    allowedIncrease: option(
      "--allowed-increase <size>",
      "effect size a High must reach (default 1, or 0.5 for cles)",
      effectSizeBound,
    ),
    allowedDecrease: option(
      "--allowed-decrease <size>",
      "effect size a Low must fall to (default 1, or 0.5 for cles)",
      effectSizeBound,
    ),
    criticalIncrease: option(
      "--critical-increase <size>",
      "effect size from which a critical High fails the canary",
      effectSizeBound,
    ),
    criticalDecrease: option(
      "--critical-decrease <size>",
      "effect size from which a critical Low fails the canary",
      effectSizeBound,
    ),
    critical: option("--critical", "a failure of this metric fails the whole canary", flag),
    requireData: option("--require-data", "missing data fails the metric (NodataFailMetric)", flag),
    nanStrategy: option(
      "--nan-strategy <strategy>",
      "what null values become (default remove)",
      oneOf(nanStrategies).optional(),
    ),
    json: option("--json", "print the judgement as JSON", flag),
  },
  helpAfter: "\nExit codes: 0 pass, 1 High, Low, NodataFailMetric or a critical failure, 2 bad input.",
  async run(_args, { baseline, canary, json, ...judging }, context) {
    const settings = judgeOptions(judging);
    const judgement = judgeMetric(readSamples(baseline), readSamples(canary), settings);

    if (json) {
      const { classification, critical, estimate, ci, pValue, effectSize, reason } = judgement;
      // JSON has no NaN: an estimate that was not computed prints as null.
      printJson(context, { classification, critical, estimate, ci, pValue, effectSize, reason });
    } else {
      context.stdout(renderJudgement(judgement, settings));
    }
    const failed =
      ["High", "Low", "NodataFailMetric"].includes(judgement.classification) || judgement.critical;
    return failed ? 1 : 0;
  },
});

function readSamples(file: string): (number | null)[] {
  return readGateInput(file, parseSamples);
}

function renderJudgement(judgement: MetricJudgement, settings: JudgeOptions): string {
  const heading = judgement.critical ? `${judgement.classification} (critical)` : judgement.classification;
  const interval = `[${formatNumber(judgement.ci[0])}, ${formatNumber(judgement.ci[1])}]`;
  const rows = [
    ["estimate", `${formatNumber(judgement.estimate)} (canary − baseline)`],
    [`${Number((settings.confidence * 100).toPrecision(6))}% interval`, interval],
    ["p-value", formatNumber(judgement.pValue)],
    ["effect size", `${formatNumber(judgement.effectSize)} (${settings.effectSize})`],
  ];
  return `${heading}\n${judgement.reason}\n\n${table(rows)}`;
}

function formatNumber(value: number): string {
  return Number.isNaN(value) ? "-" : String(Number(value.toPrecision(4)));
}
