import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, text } from "../options.js";
import { statusTable } from "../views.js";
import { STATUS_PAGE, allStatusPages, getStatus } from "../../api/status.js";

export const statusCommand = defineCommand({
  name: "status",
  args: { service: argument(text.optional()) },
  options: { json: option("--json", "print JSON", flag) },
  async run({ service }, options, context) {
    const client = await connect(context.stateDir);
    const status =
      service === undefined
        ? await allStatusPages((after) =>
            client.call(getStatus, {
              query: { limit: STATUS_PAGE.max, ...(after === undefined ? {} : { after }) },
            }),
          )
        : await client.call(getStatus, { query: { service } });
    if (options.json) printJson(context, status);
    else context.stdout(statusTable(status));
    return 0;
  },
});
