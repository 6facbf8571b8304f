import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { followShip } from "../follow.js";
import { flag, text } from "../options.js";
import { table } from "../views.js";
import { findRecall, redeployRecall } from "../../api/recall.js";

export const recallCommand = defineCommand({
  name: "recall",
  args: {
    query: argument(
      text,
      "pkg:npm/lodash@<4.17.21, pkg:pypi/django@>=4.0,<4.2.8, or an advisory id (GHSA-…, CVE-…)",
    ),
  },
  options: {
    redeploy: option(
      "--redeploy <version>",
      "ship this (fixed) version of every service found deployed now",
      text.optional(),
    ),
    json: option("--json", "print JSON", flag),
  },
  async run({ query }, { redeploy, json }, context) {
    const client = await connect(context.stateDir);
    const view = await client.call(findRecall, { query: { q: query } });
    if (json && redeploy === undefined) {
      printJson(context, view);
      return 0;
    }
    if (!json) {
      if (view.advisory)
        context.stdout(`${view.advisory.id} (${view.advisory.aliases.join(", ") || "no aliases"})\n`);
      if (view.matches.length === 0) context.stdout(`no deployment carries ${query}\n`);
      else {
        const rows = [["SERVICE", "STAGE", "TARGET", "VERSION", "COMPONENT", "FROM", "UNTIL"]];
        for (const m of view.matches) {
          rows.push([m.service, m.stage, m.target, m.version, m.component, m.from, m.until ?? "now"]);
        }
        context.stdout(table(rows));
      }
      for (const drift of view.drift) {
        context.stdout(
          `\nintegrity drift: ${drift.purl} has ${drift.variants.length} different ${drift.variants[0]?.alg ?? ""} hashes across artifacts\n`,
        );
      }
    }
    if (redeploy === undefined) return 0;
    const { runs } = await client.call(redeployRecall, { body: { q: query, version: redeploy } });
    let failed = false;
    const outcomes = [];
    for (const run of runs) {
      const outcome = await followShip(client, run.shipId, json ? undefined : context.stdout);
      failed ||= outcome.failed.length > 0;
      outcomes.push(...outcome.runs);
    }
    if (json) printJson(context, { ...view, redeployed: outcomes });
    return failed ? 1 : 0;
  },
});
