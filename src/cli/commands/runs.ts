import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { runsTable, type RunView } from "../views.js";

export const runsCommand: CliCommand = {
  name: "runs",
  configure: (command) =>
    command
      .argument("[service]")
      .option("--json", "print JSON")
      .option("--limit <n>", "at most this many of the newest runs", "50"),
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const params = new URLSearchParams({ limit: String(options.limit ?? "50") });
    if (args[0] !== undefined) params.set("service", args[0]);
    const { runs } = await client.get<{ runs: RunView[] }>(`/v1/runs?${params}`);
    if (options.json === true) printJson(context, { runs });
    else context.stdout(runsTable(runs));
    return 0;
  },
};
