import { argument, defineCommand, option } from "../command.js";
import { connect } from "../client.js";
import { followRun } from "../follow.js";
import { flagOnByDefault, text } from "../options.js";
import { approveRun } from "../../api/runs.js";

export const approveCommand = defineCommand({
  name: "approve",
  args: { run: argument(text) },
  options: {
    wait: option("--no-wait", "return once approved, without following the release", flagOnByDefault),
  },
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const run = await client.call(approveRun, { params: { id: args.run }, body: {} });
    context.stdout(`approved ${run.id}: ${run.service} ${run.version} → ${run.stage}\n`);
    if (!options.wait) return 0;
    const finished = await followRun(client, run.id, context.stdout);
    return finished.state === "succeeded" ? 0 : 1;
  },
});
