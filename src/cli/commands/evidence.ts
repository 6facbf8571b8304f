import { writeFileSync } from "node:fs";
import { getEvidence, recordAttestation } from "../../api/evidence.js";
import { readEnvelopes } from "../../evidence/attestation/files.js";
import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, text } from "../options.js";
import { table } from "../views.js";

export const evidenceCommand = defineCommand({
  name: "evidence",
  args: { artifact: argument(text, "service@version or sha256:<digest>") },
  options: {
    add: option(
      "--add <file>",
      "record the attestations in an envelope or .intoto.jsonl bundle for this artifact",
      text.optional(),
    ),
    bundle: option(
      "--bundle <file>",
      "export every attestation of the artifact as an .intoto.jsonl bundle",
      text.optional(),
    ),
    json: option("--json", "print JSON", flag),
  },
  async run(args, options, context) {
    const ref = encodeURIComponent(args.artifact);
    const client = await connect(context.stateDir);
    if (options.add !== undefined) {
      for (const envelope of readEnvelopes(options.add)) {
        const added = await client.call(recordAttestation, { body: { envelope } });
        for (const result of added.recorded) {
          context.stdout(
            `recorded ${added.predicateType}: ${result.valid ? "verifies" : `does not verify: ${result.reason}`}\n`,
          );
        }
      }
    }
    if (options.bundle !== undefined) {
      writeFileSync(options.bundle, await client.text(`/v1/evidence/${ref}?format=bundle`));
      context.stdout(`wrote ${options.bundle}\n`);
    }
    const view = await client.call(getEvidence, { params: { ref: args.artifact }, query: {} });
    if (options.json) {
      printJson(context, view);
      return 0;
    }
    const { artifact } = view;
    context.stdout(`${artifact.service} ${artifact.version}  ${artifact.digest}\n\n`);
    const rows = [["EVIDENCE", "STAGE", "VERIFIES", "SIGNED BY", "SAYS"]];
    for (const a of view.attestations) {
      rows.push([
        a.predicateType.replace(/^https:\/\//, ""),
        a.stage ?? "-",
        a.valid ? "yes" : `no: ${a.reason}`,
        a.signedBy.join(", ") || "-",
        a.summary ?? "",
      ]);
    }
    context.stdout(table(rows));
    context.stdout("\n");
    const deployments = [["STAGE", "TARGET", "FROM", "UNTIL"]];
    for (const d of view.deployments) deployments.push([d.stage, d.target, d.from, d.until ?? "now"]);
    context.stdout(view.deployments.length === 0 ? "never deployed\n" : table(deployments));
    return 0;
  },
});
