import assert from "node:assert/strict";
import { test } from "node:test";
import type { Requirement } from "../../spec/schema.js";
import type { AttestationVerdict } from "../attestation/attestation.js";
import { checkRequirement, type CheckedAttestation } from "./stage-policy.js";

function attested(
  predicate: unknown,
  stage: string | null = null,
  valid = true,
  reason = "verified",
): CheckedAttestation {
  const verdict: AttestationVerdict = {
    valid,
    reason,
    predicateType: "x",
    subjects: [],
    acceptedBy: valid ? ["ci"] : [],
    statement: { _type: "https://in-toto.io/Statement/v1", subject: [], predicateType: "x", predicate },
  } as AttestationVerdict;
  return { verdict, stage };
}

const vulns = (...levels: string[]) => ({
  scanner: {
    result: levels.map((level, i) => ({
      id: `GHSA-${i}`,
      severity: [{ method: "qualitative", score: level }],
    })),
  },
});

const cases: {
  name: string;
  requirement: Requirement;
  candidates: CheckedAttestation[];
  satisfied: boolean;
  reason?: RegExp;
}[] = [
  {
    name: "missing evidence denies",
    requirement: "sbom",
    candidates: [],
    satisfied: false,
    reason: /no sbom attestation was recorded/,
  },
  {
    name: "verified evidence satisfies a bare name",
    requirement: "sbom",
    candidates: [attested({})],
    satisfied: true,
  },
  {
    name: "evidence that does not verify denies, with the verifier's reason",
    requirement: "sbom",
    candidates: [attested({}, null, false, "signed by a key the trust file does not list for sbom")],
    satisfied: false,
    reason: /no sbom attestation verifies: signed by a key the trust file does not list/,
  },
  {
    name: "one verified attestation among tampered ones is enough",
    requirement: "provenance",
    candidates: [attested({}, null, false, "tampered"), attested({})],
    satisfied: true,
  },
  {
    name: "vulns at or below max_severity pass",
    requirement: { vulns: { max_severity: "medium" } },
    candidates: [attested(vulns("low", "medium"))],
    satisfied: true,
  },
  {
    name: "a vulnerability above max_severity denies and is named",
    requirement: { vulns: { max_severity: "medium" } },
    candidates: [attested(vulns("low", "critical"))],
    satisfied: false,
    reason: /1 vulnerability is above medium: GHSA-1 \(critical\)/,
  },
  {
    name: "an unknown severity counts as above any limit",
    requirement: { vulns: { max_severity: "critical" } },
    candidates: [attested(vulns("unknown"))],
    satisfied: false,
  },
  {
    name: "a bare vulns requirement allows up to medium",
    requirement: "vulns",
    candidates: [attested(vulns("high"))],
    satisfied: false,
    reason: /above medium/,
  },
  {
    name: "slo-evaluation must come from the named stage",
    requirement: { "slo-evaluation": { from_stage: "staging", min_result: "pass" } },
    candidates: [attested({ result: "pass", stage: "dev" }, "dev")],
    satisfied: false,
    reason: /from dev, not staging/,
  },
  {
    name: "a passed slo-evaluation from the named stage satisfies",
    requirement: { "slo-evaluation": { from_stage: "staging", min_result: "pass" } },
    candidates: [attested({ result: "pass", stage: "staging" }, "staging")],
    satisfied: true,
  },
  {
    name: "a warning satisfies only when min_result allows it",
    requirement: { "slo-evaluation": { from_stage: "staging", min_result: "warning" } },
    candidates: [attested({ result: "warning", stage: "staging" }, "staging")],
    satisfied: true,
  },
  {
    name: "a failed slo-evaluation denies",
    requirement: "slo-evaluation",
    candidates: [attested({ result: "fail", stage: "staging" }, "staging")],
    satisfied: false,
    reason: /is fail, not pass/,
  },
  {
    name: "a test result that did not pass denies",
    requirement: { "test-result": { passed: true } },
    candidates: [attested({ result: "FAILED" })],
    satisfied: false,
    reason: /FAILED, not PASSED/,
  },
];

for (const c of cases) {
  test(c.name, () => {
    const outcome = checkRequirement(c.requirement, c.candidates);
    assert.equal(outcome.satisfied, c.satisfied, outcome.reason);
    if (c.reason) assert.match(outcome.reason, c.reason);
  });
}
