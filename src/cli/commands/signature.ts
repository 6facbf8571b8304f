import { diffSignatures } from "../../api/signatures.js";
import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, oneOf, text } from "../options.js";
import { table } from "../views.js";

export const signatureCommand = defineCommand({
  name: "signature",
  args: {
    action: argument(oneOf(["diff"])),
    a: argument(text, "run id, version or digest"),
    b: argument(text, "run id, version or digest"),
  },
  options: {
    service: option("--service <name>", "the service (needed when there are several)", text.optional()),
    stage: option(
      "--stage <name>",
      "the stage (default: the newest one where both were evaluated)",
      text.optional(),
    ),
    json: option("--json", "print JSON", flag),
  },
  async run({ a, b }, options, context) {
    const client = await connect(context.stateDir);
    const diff = await client.call(diffSignatures, {
      query: { a, b, service: options.service, stage: options.stage },
    });
    if (options.json) {
      printJson(context, diff);
      return 0;
    }
    context.stdout(`${diff.service} in ${diff.stage}: A = ${diff.a}, B = ${diff.b}\n\n`);
    const rows = [["SLI", "A", "B", "CHANGE", "CHANGE %", "SIGNIFICANT"]];
    for (const change of diff.changes) {
      rows.push([
        change.sli,
        show(change.a),
        show(change.b),
        signed(change.absolute),
        change.relativePct === null ? "-" : `${signed(change.relativePct)}%`,
        change.significant === null ? "-" : change.significant ? `yes (${change.classification})` : "no",
      ]);
    }
    context.stdout(table(rows));
    return 0;
  },
});

function show(value: number | null): string {
  return value === null ? "-" : String(Math.round(value * 1000) / 1000);
}

function signed(value: number | null): string {
  if (value === null) return "-";
  const rounded = Math.round(value * 100) / 100;
  return rounded > 0 ? `+${rounded}` : String(rounded);
}
