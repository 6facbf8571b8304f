import { basename } from "node:path";
import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { filePath, flag, repeatable, text, wholeNumber } from "../options.js";
import { UserError } from "../../errors.js";
import {
  claimedPredicateType,
  verifyAttestation,
  type AttestationVerdict,
  type PolicyKey,
} from "../../evidence/attestation/attestation.js";
import { readEnvelopes, resolveSubject } from "../../evidence/attestation/files.js";
import { keyIdOf, loadPublicKey } from "../../evidence/attestation/keys.js";
import { predicateShortNames, resolvePredicateType } from "../../evidence/attestation/predicate-types.js";
import { loadTrustFile } from "../../evidence/attestation/trust.js";

interface VerifyReport {
  valid: boolean;
  reason: string;
  predicateType: string;
  subjects: string[];
  signedBy: string[];
}

export const verifyCommand = defineCommand({
  name: "verify",
  args: { file: argument(filePath, "envelope.json, or bundle.intoto.jsonl") },
  options: {
    key: option("--key <file>", "trusted PEM public key; repeat for several", repeatable(filePath)),
    trust: option(
      "--trust <file>",
      "trust file: keys and the predicate types each may sign",
      text.optional(),
    ),
    subject: option(
      "--subject <subject>",
      "the artifact it must be about: a file, a folder or sha256:<hex>",
      text.optional(),
    ),
    type: option(
      "--type <type>",
      `predicate type it must have: a URI or ${predicateShortNames.join(", ")}`,
      text.optional(),
    ),
    threshold: option(
      "--threshold <n>",
      "distinct trusted keys that must have signed",
      wholeNumber({ min: 1 }).prefault("1"),
    ),
    json: option("--json", 'print {"valid", "reason", "predicateType", "subjects", "signedBy"}', flag),
  },
  async run({ file }, options, context) {
    const keys = trustedKeys(options.key, options.trust);
    const predicateType = options.type === undefined ? undefined : resolvePredicateType(options.type);
    const subjectDigest =
      options.subject === undefined ? undefined : (await resolveSubject(options.subject)).digest;
    const { threshold } = options;
    const envelopes = readEnvelopes(file);
    const isBundle = file.endsWith(".jsonl");

    // From a bundle, --type picks the first envelope claiming that type; the check itself is signed.
    const chosen =
      isBundle && predicateType !== undefined
        ? envelopes.filter((envelope) => claimedPredicateType(envelope) === predicateType).slice(0, 1)
        : envelopes;
    const reports: VerifyReport[] = chosen.map((envelope) =>
      report(verifyAttestation(envelope, keys, { threshold, subjectDigest, predicateType })),
    );
    if (reports.length === 0) {
      reports.push({
        valid: false,
        reason: `no attestation of type ${predicateType ?? ""} in ${file}`,
        predicateType: predicateType ?? "",
        subjects: [],
        signedBy: [],
      });
    }
    const allValid = reports.every((entry) => entry.valid);
    const single = !isBundle || predicateType !== undefined;
    if (options.json) {
      printJson(context, single ? reports[0] : reports);
    } else {
      for (const entry of reports) context.stdout(`${describe(entry)}\n`);
    }
    return allValid ? 0 : 1;
  },
});

/** Keys given with --key may sign anything; a trust file limits each key to its predicate types. */
function trustedKeys(keyFiles: string[], trustFile: string | undefined): PolicyKey[] {
  const keys: PolicyKey[] = keyFiles.map((keyFile) => {
    const publicKey = loadPublicKey(keyFile);
    return { name: basename(keyFile), keyid: keyIdOf(publicKey), publicKey };
  });
  if (trustFile !== undefined) keys.push(...loadTrustFile(trustFile).keys);
  if (keys.length === 0) throw new UserError("give at least one trusted key with --key or --trust");
  return keys;
}

function report(verdict: AttestationVerdict): VerifyReport {
  const { valid, reason, predicateType, subjects, acceptedBy } = verdict;
  return { valid, reason, predicateType, subjects, signedBy: acceptedBy };
}

function describe(entry: VerifyReport): string {
  if (!entry.valid) return `invalid: ${entry.reason}`;
  return `valid: ${entry.predicateType} for ${entry.subjects.join(", ")} (${entry.reason})`;
}
