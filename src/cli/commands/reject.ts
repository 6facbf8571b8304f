import { argument, defineCommand, option } from "../command.js";
import { connect } from "../client.js";
import { text } from "../options.js";
import type { RunView } from "../views.js";

export const rejectCommand = defineCommand({
  name: "reject",
  args: { run: argument(text) },
  options: { reason: option("--reason <text>", "why", text.prefault("rejected")) },
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const run = await client.post<RunView>(`/v1/runs/${encodeURIComponent(args.run)}/reject`, {
      reason: options.reason,
    });
    context.stdout(`rejected ${run.id}: ${run.service} ${run.version} → ${run.stage}\n`);
    return 0;
  },
});
