import { argument, defineCommand } from "../command.js";
import { text } from "../options.js";
import { initServiceSpec } from "../../spec/init.js";

export const initCommand = defineCommand({
  name: "init",
  args: { dir: argument(text.prefault("."), "the project folder") },
  async run({ dir }, _options, context) {
    const { file, project } = initServiceSpec(dir);
    if (project.ecosystem === "generic") {
      context.stdout(
        `wrote ${file}\nCould not tell what kind of project this is, so the file is generic: set run.command ` +
          `(now ./start.sh) to how the service starts, then run: waybill validate ${file}\n`,
      );
      return 0;
    }
    const notes = project.notes.map((note) => `  - ${note}\n`).join("");
    context.stdout(
      `wrote ${file} for the ${project.ecosystem} service ${project.name}` +
        (project.evidence === undefined ? "\n" : ` (found ${project.evidence})\n`) +
        (notes === "" ? "" : `Check:\n${notes}`) +
        `Next: waybill validate ${file}, then waybill ship\n`,
    );
    return 0;
  },
});
