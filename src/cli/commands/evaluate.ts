import { readGateInput } from "../gate-input.js";
import { UserError } from "../../errors.js";
import { CriteriaSyntaxError, parseCriteria } from "../../gate/criteria.js";
import { parsePreviousEvaluations, parseSliValues } from "../../gate/inputs.js";
import { evaluateSlo, type CriterionTarget, type Evaluation } from "../../gate/slo-evaluation.js";
import { loadSloFile } from "../../spec/load.js";
import { defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { filePath, flag } from "../options.js";
import { table } from "../views.js";

const exitCodes: Record<Evaluation["result"], number> = { pass: 0, warning: 3, fail: 1 };

export const evaluateCommand = defineCommand({
  name: "evaluate",
  options: {
    slo: option("--slo <file>", "the Keptn slo.yaml", filePath),
    sli: option(
      "--sli <file>",
      'SLI values as JSON: {"name": number|null}, or Keptn\'s indicatorValues array',
      filePath,
    ),
    previous: option(
      "--previous <file>",
      'every earlier evaluation as a JSON array, newest first: [{"result": "pass", "values": {"name": number|null}}]',
      filePath.optional(),
    ),
    json: option("--json", "print the evaluation as JSON", flag),
  },
  helpAfter: "\nExit codes: 0 pass, 3 warning, 1 fail, 2 bad input.",
  async run(_args, options, context) {
    const slo = loadSloFile(options.slo);
    const values = readGateInput(options.sli, parseSliValues);
    const previous =
      options.previous === undefined ? [] : readGateInput(options.previous, parsePreviousEvaluations);
    let evaluation: Evaluation;
    try {
      evaluation = evaluateSlo(slo, values, previous);
    } catch (error) {
      if (error instanceof CriteriaSyntaxError) throw new UserError(`${options.slo}: ${error.message}`);
      throw error;
    }

    if (options.json) {
      const { result, score, message, objectives, comparison } = evaluation;
      printJson(context, { result, score, message, objectives, comparison });
    } else {
      context.stdout(renderEvaluation(evaluation));
    }
    return exitCodes[evaluation.result];
  },
});

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
