import type { CliCommand } from "../command.js";
import { connect } from "../client.js";
import type { RunView } from "../views.js";

export const rejectCommand: CliCommand = {
  name: "reject",
  configure: (command) => command.argument("<run>").option("--reason <text>", "why", "rejected"),
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const reason = typeof options.reason === "string" ? options.reason : "rejected";
    const run = await client.post<RunView>(`/v1/runs/${encodeURIComponent(args[0] ?? "")}/reject`, {
      reason,
    });
    context.stdout(`rejected ${run.id}: ${run.service} ${run.version} → ${run.stage}\n`);
    return 0;
  },
};
