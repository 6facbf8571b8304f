import type { CliCommand } from "../command.js";
import { connect } from "../client.js";
import { followRun } from "../follow.js";
import type { RunView } from "../views.js";

export const approveCommand: CliCommand = {
  name: "approve",
  configure: (command) =>
    command.argument("<run>").option("--no-wait", "return once approved, without following the release"),
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const run = await client.post<RunView>(`/v1/runs/${encodeURIComponent(args[0] ?? "")}/approve`, {});
    context.stdout(`approved ${run.id}: ${run.service} ${run.version} → ${run.stage}\n`);
    if (options.wait === false) return 0;
    const finished = await followRun(client, run.id, context.stdout);
    return finished.state === "succeeded" ? 0 : 1;
  },
};
