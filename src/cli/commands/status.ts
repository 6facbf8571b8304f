import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, text } from "../options.js";
import { statusTable, type StatusView } from "../views.js";

export const statusCommand = defineCommand({
  name: "status",
  args: { service: argument(text.optional()) },
  options: { json: option("--json", "print JSON", flag) },
  async run({ service }, options, context) {
    const client = await connect(context.stateDir);
    const query = service === undefined ? "" : `?service=${encodeURIComponent(service)}`;
    const status = await client.get<StatusView>(`/v1/status${query}`);
    if (options.json) printJson(context, status);
    else context.stdout(statusTable(status));
    return 0;
  },
});
