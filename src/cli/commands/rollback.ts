import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { followShip, printOutcome } from "../follow.js";
import type { RunView } from "../views.js";

export const rollbackCommand: CliCommand = {
  name: "rollback",
  configure: (command) => command.argument("<service>").argument("<stage>").option("--json", "print JSON"),
  async run(args, options, context) {
    const [service = "", stage = ""] = args;
    const client = await connect(context.stateDir);
    const run = await client.post<RunView>(
      `/v1/services/${encodeURIComponent(service)}/stages/${encodeURIComponent(stage)}/rollback`,
      {},
    );
    const json = options.json === true;
    const outcome = await followShip(client, run.shipId, json ? undefined : context.stdout);
    if (json) printJson(context, { runs: outcome.runs });
    else await printOutcome(client, service, outcome, context.stdout);
    return outcome.failed.length > 0 ? 1 : 0;
  },
};
