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

const NOW = new Date("2026-12-04T12:00:00Z");

const vulns = (...levels: string[]) => ({
  scanner: {
    db: { lastUpdate: "2026-12-01T00:00:00.000Z", advisories: { npm: 120 } },
    result: levels.map((level, i) => ({
      id: `GHSA-${i}`,
      severity: [{ method: "qualitative", score: level }],
    })),
  },
  notScanned: [],
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
    name: "an empty scan of an ecosystem the database has no advisories for denies: nothing was scanned",
    requirement: "vulns",
    candidates: [attested({ ...vulns(), notScanned: [{ ecosystem: "pypi", packages: 12 }] })],
    satisfied: false,
    reason: /nothing was scanned for pypi \(12 packages\): the advisory database had no advisories/,
  },
  {
    name: "a vulns attestation that does not say what it scanned denies",
    requirement: "vulns",
    candidates: [attested({ scanner: { result: [] } })],
    satisfied: false,
    reason: /does not say which ecosystems were scanned/,
  },
  {
    name: "a database younger than max_age satisfies",
    requirement: { vulns: { max_severity: "medium", max_age: "7d" } },
    candidates: [attested(vulns("low"))],
    satisfied: true,
  },
  {
    name: "a database older than max_age denies, with its date",
    requirement: { vulns: { max_severity: "medium", max_age: "2d" } },
    candidates: [attested(vulns())],
    satisfied: false,
    reason: /last updated 2026-12-01T00:00:00.000Z, more than 2d before the check/,
  },
  {
    name: "max_age denies a scan that does not date its database",
    requirement: { vulns: { max_severity: "medium", max_age: "7d" } },
    candidates: [attested({ scanner: { result: [] }, notScanned: [] })],
    satisfied: false,
    reason: /does not say how new its advisory database was/,
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
    const outcome = checkRequirement(c.requirement, c.candidates, NOW);
    assert.equal(outcome.satisfied, c.satisfied, outcome.reason);
    if (c.reason) assert.match(outcome.reason, c.reason);
  });
}
