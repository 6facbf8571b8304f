import { basename } from "node:path";
import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
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

export const verifyCommand: CliCommand = {
  name: "verify",
  configure: (command) =>
    command
      .argument("<file>", "envelope.json, or bundle.intoto.jsonl")
      .option("--key <file>", "trusted PEM public key; repeat for several", collect, [])
      .option("--trust <file>", "trust file: keys and the predicate types each may sign")
      .option("--subject <subject>", "the artifact it must be about: a file, a folder or sha256:<hex>")
      .option("--type <type>", `predicate type it must have: a URI or ${predicateShortNames.join(", ")}`)
      .option("--threshold <n>", "distinct trusted keys that must have signed", "1")
      .option("--json", 'print {"valid", "reason", "predicateType", "subjects", "signedBy"}'),
  async run(args, options, context) {
    const file = args[0];
    if (file === undefined) throw new UserError("name the envelope or bundle to verify");
    const keys = trustedKeys(options);
    const predicateType = typeof options.type === "string" ? resolvePredicateType(options.type) : undefined;
    const subjectDigest =
      typeof options.subject === "string" ? (await resolveSubject(options.subject)).digest : undefined;
    const threshold = Number(options.threshold ?? 1);
    if (!Number.isInteger(threshold) || threshold < 1) {
      throw new UserError(
        `--threshold must be a whole number of at least 1, not "${String(options.threshold)}"`,
      );
    }
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
    if (options.json === true) {
      printJson(context, single ? reports[0] : reports);
    } else {
      for (const entry of reports) context.stdout(`${describe(entry)}\n`);
    }
    return allValid ? 0 : 1;
  },
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Keys given with --key may sign anything; a trust file limits each key to its predicate types. */
function trustedKeys(options: Record<string, unknown>): PolicyKey[] {
  const keyFiles =
    typeof options.key === "string" ? [options.key] : Array.isArray(options.key) ? options.key : [];
  const keys: PolicyKey[] = keyFiles.map((keyFile: unknown) => {
    if (typeof keyFile !== "string") throw new UserError("--key takes a PEM file");
    const publicKey = loadPublicKey(keyFile);
    return { name: basename(keyFile), keyid: keyIdOf(publicKey), publicKey };
  });
  if (typeof options.trust === "string") keys.push(...loadTrustFile(options.trust).keys);
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
