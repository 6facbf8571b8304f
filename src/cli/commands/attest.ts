import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { filePath, nonEmpty, text } from "../options.js";
import { UserError, errorMessage } from "../../errors.js";
import { signStatement } from "../../evidence/attestation/attestation.js";
import { formatBundle } from "../../evidence/attestation/bundle.js";
import { resolveSubject } from "../../evidence/attestation/files.js";
import { loadSigner } from "../../evidence/attestation/keys.js";
import { predicateShortNames, resolvePredicateType } from "../../evidence/attestation/predicate-types.js";
import { makeStatement } from "../../evidence/attestation/statement.js";

export const attestCommand = defineCommand({
  name: "attest",
  options: {
    type: option(
      "--type <type>",
      `predicate type: a URI or ${predicateShortNames.join(", ")}`,
      nonEmpty("a predicate type"),
    ),
    predicate: option("--predicate <file>", "the predicate, a JSON file", filePath),
    subject: option(
      "--subject <subject>",
      "the artifact: a file, a folder (Waybill artifact digest) or sha256:<hex>",
      nonEmpty("a file, a folder or sha256:<hex>"),
    ),
    key: option("--key <file>", "PEM private key to sign with (waybill keys generate)", filePath),
    out: option(
      "--out <file>",
      "write the envelope here (a .jsonl file gets it appended as a bundle line)",
      text.optional(),
    ),
  },
  async run(_args, options, context) {
    const predicateType = resolvePredicateType(options.type);
    const subject = await resolveSubject(options.subject);
    const signer = loadSigner(options.key);
    const statement = makeStatement([subject], predicateType, readPredicate(options.predicate));
    const envelope = signStatement(statement, [signer]);

    const { out } = options;
    if (out === undefined) {
      printJson(context, envelope);
      return 0;
    }
    if (out.endsWith(".jsonl")) appendFileSync(out, formatBundle([envelope]));
    else writeFileSync(out, `${JSON.stringify(envelope, null, 2)}\n`);
    context.stdout(`signed ${predicateType} for ${subject.name} ${subject.digest} → ${out}\n`);
    return 0;
  },
});

function readPredicate(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UserError(`cannot read predicate ${file}: ${errorMessage(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`${file}: the predicate is not JSON (${errorMessage(error)})`);
  }
}
