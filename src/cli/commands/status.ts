import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { statusTable, type StatusView } from "../views.js";

export const statusCommand: CliCommand = {
  name: "status",
  configure: (command) => command.argument("[service]").option("--json", "print JSON"),
  async run(args, options, context) {
    const client = await connect(context.stateDir);
    const query = args[0] === undefined ? "" : `?service=${encodeURIComponent(args[0])}`;
    const status = await client.get<StatusView>(`/v1/status${query}`);
    if (options.json === true) printJson(context, status);
    else context.stdout(statusTable(status));
    return 0;
  },
};
