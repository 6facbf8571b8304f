import { argument, defineCommand, option } from "../command.js";
import { connect } from "../client.js";
import { text } from "../options.js";
import { rejectRun } from "../../api/runs.js";

export const rejectCommand = defineCommand({
  name: "reject",
  args: { run: argument(text) },
  options: { reason: option("--reason <text>", "why", text.prefault("rejected")) },
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const run = await client.call(rejectRun, {
      params: { id: args.run },
      body: options.reason === undefined ? {} : { reason: options.reason },
    });
    context.stdout(`rejected ${run.id}: ${run.service} ${run.version} → ${run.stage}\n`);
    return 0;
  },
});
