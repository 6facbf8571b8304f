import { join, relative } from "node:path";
import { LOCAL_TARGET } from "../../spec/target-kinds.js";
import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { flag, text } from "../options.js";
import { SpecError, isDirectory, loadSpecFile, type LoadedSpecFile } from "../../spec/load.js";
import { stageTargets } from "../../spec/schema.js";

export const validateCommand = defineCommand({
  name: "validate",
  args: {
    file: argument(
      text.prefault("waybill.yaml"),
      "waybill.yaml or slo.yaml, or a folder holding a waybill.yaml",
    ),
  },
  options: { json: option("--json", 'print {"valid": bool, "issues": [...]}', flag) },
  async run(args, { json }, context) {
    const file = isDirectory(args.file) ? join(args.file, "waybill.yaml") : args.file;
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
});

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
      return targets.length === 1 && targets[0] === LOCAL_TARGET
        ? stage.name
        : `${stage.name} [${targets.join(", ")}]`;
    })
    .join(" → ");
  const files =
    sloFile === undefined ? `${file} is valid` : `${file} and ${relative(".", sloFile)} are valid`;
  return `${files} (service ${spec.metadata.name}, stages ${stages})`;
}
