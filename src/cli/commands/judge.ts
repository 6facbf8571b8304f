import { readGateInput } from "../gate-input.js";
import { Option } from "commander";
import { UserError } from "../../errors.js";
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
import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { table } from "../views.js";

const directions: readonly Direction[] = ["either", "increase", "decrease"];
const effectSizes: readonly EffectSizeMeasure[] = ["mean-ratio", "cles"];
const nanStrategies: readonly NanStrategy[] = ["remove", "replace"];

export const judgeCommand: CliCommand = {
  name: "judge",
  configure: (command) =>
    command
      .requiredOption(
        "--baseline <file>",
        "the baseline's samples: a JSON array of numbers, null for a missing value",
      )
      .requiredOption("--canary <file>", "the canary's samples, in the same form")
      .addOption(new Option("--direction <direction>", "which change fails the metric").choices(directions))
      .option("--confidence <level>", "confidence level of the interval (default 0.98)")
      .option(
        "--tolerance <fraction>",
        "band the interval must clear, as a fraction of |estimate| (default 0.25)",
      )
      .addOption(
        new Option("--effect-size <measure>", "effect size measure (default mean-ratio)").choices(
          effectSizes,
        ),
      )
      .option("--allowed-increase <size>", "effect size a High must reach (default 1, or 0.5 for cles)")
      .option("--allowed-decrease <size>", "effect size a Low must fall to (default 1, or 0.5 for cles)")
      .option("--critical-increase <size>", "effect size from which a critical High fails the canary")
      .option("--critical-decrease <size>", "effect size from which a critical Low fails the canary")
      .option("--critical", "a failure of this metric fails the whole canary")
      .option("--require-data", "missing data fails the metric (NodataFailMetric)")
      .addOption(
        new Option("--nan-strategy <strategy>", "what null values become (default remove)").choices(
          nanStrategies,
        ),
      )
      .option("--json", "print the judgement as JSON")
      .addHelpText(
        "after",
        "\nExit codes: 0 pass, 1 High, Low, NodataFailMetric or a critical failure, 2 bad input.",
      ),
  async run(_args, options, context) {
    const baseline = readSamples(pathOption(options.baseline, "--baseline"));
    const canary = readSamples(pathOption(options.canary, "--canary"));
    const settings = judgeOptions(judgeOptionsFrom(options));
    const judgement = judgeMetric(baseline, canary, settings);

    if (options.json === true) {
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
};

function judgeOptionsFrom(options: Record<string, unknown>): Partial<JudgeOptions> {
  return {
    direction: choice(options.direction, "--direction", directions),
    confidence: numberOption(
      options.confidence,
      "--confidence",
      (value) => value > 0 && value < 1,
      "between 0 and 1",
    ),
    tolerance: numberOption(options.tolerance, "--tolerance", (value) => value >= 0, "0 or more"),
    effectSize: choice(options.effectSize, "--effect-size", effectSizes),
    allowedIncrease: effectSizeOption(options.allowedIncrease, "--allowed-increase"),
    allowedDecrease: effectSizeOption(options.allowedDecrease, "--allowed-decrease"),
    criticalIncrease: effectSizeOption(options.criticalIncrease, "--critical-increase"),
    criticalDecrease: effectSizeOption(options.criticalDecrease, "--critical-decrease"),
    critical: options.critical === true,
    requireData: options.requireData === true,
    nanStrategy: choice(options.nanStrategy, "--nan-strategy", nanStrategies),
  };
}

function pathOption(value: unknown, flag: string): string {
  if (typeof value !== "string" || value === "") throw new UserError(`${flag} needs a file path`);
  return value;
}

function choice<T extends string>(value: unknown, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new UserError(`${flag} must be one of ${allowed.join(", ")}`);
  return found;
}

function numberOption(
  value: unknown,
  flag: string,
  valid: (value: number) => boolean,
  expectation: string,
): number | undefined {
  if (value === undefined) return undefined;
  const parsed =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : NaN;
  if (!Number.isFinite(parsed) || !valid(parsed))
    throw new UserError(`${flag} must be a number ${expectation}`);
  return parsed;
}

function effectSizeOption(value: unknown, flag: string): number | undefined {
  return numberOption(value, flag, (size) => size >= 0, "0 or more");
}

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
