/**
 * The predicate types Waybill signs and checks, and the short names users write for them in
 * trust files, stage policies (`requires: [sbom, provenance]`) and `waybill attest --type`.
 */
import { UserError } from "../../errors.js";

export const PREDICATE_TYPES = {
  provenance: "https://slsa.dev/provenance/v1",
  sbom: "https://cyclonedx.org/bom",
  vulns: "https://in-toto.io/attestation/vulns/v0.2",
  "test-result": "https://in-toto.io/attestation/test-result/v0.1",
  "slo-evaluation": "https://waybill.dev/attestation/slo-evaluation/v0.1",
  "minimum-environment": "https://waybill.dev/attestation/minimum-environment/v0.1",
} as const;

export type PredicateShortName = keyof typeof PREDICATE_TYPES;

export const predicateShortNames = Object.keys(PREDICATE_TYPES) as PredicateShortName[];

function isShortName(text: string): text is PredicateShortName {
  return Object.hasOwn(PREDICATE_TYPES, text);
}

/** A short name becomes its URI; a URI is kept as it is, so other tools' predicates can be named too. */
export function resolvePredicateType(nameOrUri: string): string {
  if (isShortName(nameOrUri)) return PREDICATE_TYPES[nameOrUri];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(nameOrUri)) return nameOrUri;
  throw new UserError(
    `unknown predicate type "${nameOrUri}": use a URI or one of ${predicateShortNames.join(", ")}`,
  );
}

export function shortNameOf(predicateType: string): PredicateShortName | undefined {
  return predicateShortNames.find((name) => PREDICATE_TYPES[name] === predicateType);
}
