import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import {
  evaluationTable,
  table,
  visible,
  type EvaluationView,
  type EventView,
  type RunView,
} from "../views.js";

export const runCommand: CliCommand = {
  name: "run",
  configure: (command) => command.argument("<id>").option("--json", "print JSON"),
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const run = await client.get<RunView & { events: EventView[]; evaluation: EvaluationView | null }>(
      `/v1/runs/${encodeURIComponent(args[0] ?? "")}`,
    );
    if (options.json === true) {
      printJson(context, run);
      return 0;
    }
    context.stdout(
      `run ${run.id}: ${run.service} ${visible(run.version)} → ${run.stage} (${run.kind})\n` +
        `state ${run.state}, result ${run.result ?? "-"}${run.reason ? `, reason: ${run.reason}` : ""}\n\n`,
    );
    if (run.evaluation) context.stdout(`${evaluationTable(run.evaluation)}\n`);
    const rows = [["TIME", "EVENT", "DETAIL"]];
    for (const event of run.events) {
      rows.push([event.time, event.type.replace(/^dev\.waybill\./, ""), detail(event.data)]);
    }
    context.stdout(table(rows));
    return 0;
  },
};

function detail(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([key, value]) => key !== "spec" && value !== undefined && typeof value !== "object")
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ");
}
