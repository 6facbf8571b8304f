import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { UserError, errorMessage } from "../../errors.js";
import { signStatement } from "../../evidence/attestation/attestation.js";
import { formatBundle } from "../../evidence/attestation/bundle.js";
import { resolveSubject } from "../../evidence/attestation/files.js";
import { loadSigner } from "../../evidence/attestation/keys.js";
import { predicateShortNames, resolvePredicateType } from "../../evidence/attestation/predicate-types.js";
import { makeStatement } from "../../evidence/attestation/statement.js";

export const attestCommand: CliCommand = {
  name: "attest",
  configure: (command) =>
    command
      .requiredOption("--type <type>", `predicate type: a URI or ${predicateShortNames.join(", ")}`)
      .requiredOption("--predicate <file>", "the predicate, a JSON file")
      .requiredOption(
        "--subject <subject>",
        "the artifact: a file, a folder (Waybill artifact digest) or sha256:<hex>",
      )
      .requiredOption("--key <file>", "PEM private key to sign with (waybill keys generate)")
      .option("--out <file>", "write the envelope here (a .jsonl file gets it appended as a bundle line)"),
  async run(_args, options, context) {
    const predicateType = resolvePredicateType(requiredText(options, "type"));
    const predicateFile = requiredText(options, "predicate");
    const subject = await resolveSubject(requiredText(options, "subject"));
    const signer = loadSigner(requiredText(options, "key"));
    const statement = makeStatement([subject], predicateType, readPredicate(predicateFile));
    const envelope = signStatement(statement, [signer]);

    const out = options.out;
    if (typeof out !== "string") {
      printJson(context, envelope);
      return 0;
    }
    if (out.endsWith(".jsonl")) appendFileSync(out, formatBundle([envelope]));
    else writeFileSync(out, `${JSON.stringify(envelope, null, 2)}\n`);
    context.stdout(`signed ${predicateType} for ${subject.name} ${subject.digest} → ${out}\n`);
    return 0;
  },
};

function requiredText(options: Record<string, unknown>, name: string): string {
  const value = options[name];
  if (typeof value !== "string" || value === "") throw new UserError(`--${name} is required`);
  return value;
}

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
