import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, text, wholeNumber } from "../options.js";
import { runsTable } from "../views.js";
import { listRuns } from "../../api/runs.js";

export const runsCommand = defineCommand({
  name: "runs",
  args: { service: argument(text.optional()) },
  options: {
    json: option("--json", "print JSON", flag),
    limit: option(
      "--limit <n>",
      "at most this many of the newest runs",
      wholeNumber({ min: 1, max: 1000 }).prefault("50"),
    ),
  },
  async run({ service }, options, context) {
    const client = await connect(context.stateDir);
    const params = new URLSearchParams({ limit: String(options.limit) });
    if (service !== undefined) params.set("service", service);
    const { runs } = await client.call(listRuns, { query: Object.fromEntries(params) });
    if (options.json) printJson(context, { runs });
    else context.stdout(runsTable(runs));
    return 0;
  },
});
