import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { followShip, printOutcome } from "../follow.js";
import { flag, text } from "../options.js";
import { rollBackStage } from "../../api/stages.js";

export const rollbackCommand = defineCommand({
  name: "rollback",
  args: { service: argument(text), stage: argument(text) },
  options: { json: option("--json", "print JSON", flag) },
  async run({ service, stage }, { json }, context) {
    const client = await connect(context.stateDir);
    const run = await client.call(rollBackStage, { params: { service, stage }, body: {} });
    const outcome = await followShip(client, run.shipId, json ? undefined : context.stdout);
    if (json) printJson(context, { runs: outcome.runs });
    else await printOutcome(client, service, outcome, context.stdout);
    return outcome.failed.length > 0 ? 1 : 0;
  },
});
