import { join, relative } from "node:path";
import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { SpecError, isDirectory, loadSpecFile, type LoadedSpecFile } from "../../spec/load.js";
import { stageTargets } from "../../spec/schema.js";

export const validateCommand: CliCommand = {
  name: "validate",
  configure: (command) =>
    command
      .argument("[file]", "waybill.yaml or slo.yaml, or a folder holding a waybill.yaml", "waybill.yaml")
      .option("--json", 'print {"valid": bool, "issues": [...]}'),
  async run(args, options, context) {
    const given = args[0] ?? "waybill.yaml";
    const file = isDirectory(given) ? join(given, "waybill.yaml") : given;
    const json = options.json === true;
    let loaded: LoadedSpecFile;
    try {
      loaded = loadSpecFile(file);
    } catch (error) {
      if (!(json && error instanceof SpecError)) throw error;
      printJson(context, { valid: false, file, issues: error.issues });
      return error.exitCode;
    }
    if (json) {
      printJson(context, { valid: true, file, kind: loaded.kind, issues: [] });
    } else {
      context.stdout(`ok: ${summary(file, loaded)}\n`);
    }
    return 0;
  },
};

function summary(file: string, loaded: LoadedSpecFile): string {
  if (loaded.kind === "slo") {
    const objectives = loaded.slo.objectives?.length ?? 0;
    const score = loaded.slo.total_score;
    const scoreText = score === undefined ? "" : `, total_score pass ${score.pass}`;
    return `${file} is a valid Keptn SLO file (${objectives} ${objectives === 1 ? "objective" : "objectives"}${scoreText})`;
  }
  const { spec, sloFile } = loaded;
  const stages = spec.stages
    .map((stage) => {
      const targets = stageTargets(stage);
      return targets.length === 1 && targets[0] === "local"
        ? stage.name
        : `${stage.name} [${targets.join(", ")}]`;
    })
    .join(" → ");
  const files =
    sloFile === undefined ? `${file} is valid` : `${file} and ${relative(".", sloFile)} are valid`;
  return `${files} (service ${spec.metadata.name}, stages ${stages})`;
}
