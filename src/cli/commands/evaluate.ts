import { readGateInput } from "../gate-input.js";
import { UserError } from "../../errors.js";
import { CriteriaSyntaxError, parseCriteria } from "../../gate/criteria.js";
import { parsePreviousEvaluations, parseSliValues } from "../../gate/inputs.js";
import { evaluateSlo, type CriterionTarget, type Evaluation } from "../../gate/slo-evaluation.js";
import { loadSloFile } from "../../spec/load.js";
import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { table } from "../views.js";

const exitCodes: Record<Evaluation["result"], number> = { pass: 0, warning: 3, fail: 1 };

export const evaluateCommand: CliCommand = {
  name: "evaluate",
  configure: (command) =>
    command
      .requiredOption("--slo <file>", "the Keptn slo.yaml")
      .requiredOption(
        "--sli <file>",
        'SLI values as JSON: {"name": number|null}, or Keptn\'s indicatorValues array',
      )
      .option(
        "--previous <file>",
        'every earlier evaluation as a JSON array, newest first: [{"result": "pass", "values": {"name": number|null}}]',
      )
      .option("--json", "print the evaluation as JSON")
      .addHelpText("after", "\nExit codes: 0 pass, 3 warning, 1 fail, 2 bad input."),
  async run(_args, options, context) {
    const sloFile = pathOption(options.slo, "--slo");
    const sliFile = pathOption(options.sli, "--sli");
    const previousFile =
      options.previous === undefined ? undefined : pathOption(options.previous, "--previous");

    const slo = loadSloFile(sloFile);
    const values = readGateInput(sliFile, parseSliValues);
    const previous = previousFile === undefined ? [] : readGateInput(previousFile, parsePreviousEvaluations);
    let evaluation: Evaluation;
    try {
      evaluation = evaluateSlo(slo, values, previous);
    } catch (error) {
      if (error instanceof CriteriaSyntaxError) throw new UserError(`${sloFile}: ${error.message}`);
      throw error;
    }

    if (options.json === true) {
      const { result, score, message, objectives, comparison } = evaluation;
      printJson(context, { result, score, message, objectives, comparison });
    } else {
      context.stdout(renderEvaluation(evaluation));
    }
    return exitCodes[evaluation.result];
  },
};

function pathOption(value: unknown, flag: string): string {
  if (typeof value !== "string" || value === "") throw new UserError(`${flag} needs a file path`);
  return value;
}

function renderEvaluation(evaluation: Evaluation): string {
  const { totalScore, comparison } = evaluation;
  const targets = `pass ${totalScore.pass}%${totalScore.warning === undefined ? "" : `, warning ${totalScore.warning}%`}`;
  const lines = [`${evaluation.result.toUpperCase()}  score ${formatNumber(evaluation.score)} (${targets})`];
  lines.push(evaluation.message);
  if (evaluation.objectives.length > 0) {
    const rows = [["SLI", "STATUS", "SCORE", "VALUE", "BASELINE", "PASS", "WARNING"]];
    for (const objective of evaluation.objectives) {
      const name =
        objective.displayName === "" ? objective.sli : `${objective.displayName} (${objective.sli})`;
      rows.push([
        objective.keySli ? `${name} [key]` : name,
        objective.status,
        objective.status === "info" ? "-" : `${formatNumber(objective.score)}/${objective.weight}`,
        objective.value.success ? formatNumber(objective.value.value) : "missing",
        objective.value.comparedValue === undefined ? "-" : formatNumber(objective.value.comparedValue),
        describeTargets(objective.passTargets, objective.value.comparedValue !== undefined),
        describeTargets(objective.warningTargets, objective.value.comparedValue !== undefined),
      ]);
    }
    lines.push("", table(rows).trimEnd());
  }
  const compared = comparison.comparedIndexes.length;
  lines.push(
    "",
    `compared with ${compared} earlier evaluation${compared === 1 ? "" : "s"} ` +
      `(${comparison.compareWith}, up to ${comparison.numberOfComparisonResults}, ` +
      `include ${comparison.includeResultWithScore}, ${comparison.aggregateFunction})`,
  );
  return `${lines.join("\n")}\n`;
}

/** Each criterion with the threshold it set, marked ✓ when met and ✗ when violated. */
function describeTargets(targets: readonly CriterionTarget[], hasBaseline: boolean): string {
  if (targets.length === 0) return "-";
  return targets
    .map((target) => {
      const relative = parseCriteria(target.criteria).kind === "relative";
      const threshold = !relative
        ? ""
        : hasBaseline
          ? ` (${formatNumber(target.targetValue)})`
          : " (no baseline)";
      return `${target.criteria.replace(/\s+/g, "")}${threshold} ${target.violated ? "✗" : "✓"}`;
    })
    .join(", ");
}

function formatNumber(value: number): string {
  return String(Number(value.toPrecision(6)));
}
