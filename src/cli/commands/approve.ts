import type { CliCommand } from "../command.js";
import { connect } from "../client.js";
import type { RunView } from "../views.js";

export const approveCommand: CliCommand = {
  name: "approve",
  configure: (command) => command.argument("<run>"),
  async run(args, _options, context) {
    const client = await connect(context.stateDir);
    const run = await client.post<RunView>(`/v1/runs/${encodeURIComponent(args[0] ?? "")}/approve`, {});
    context.stdout(`approved ${run.id}: ${run.service} ${run.version} → ${run.stage}\n`);
    return 0;
  },
};
