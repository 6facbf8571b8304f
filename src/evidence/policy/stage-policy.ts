/**
 * The stage policy (pure): does the evidence for an artifact satisfy a stage's `requires:`?
 * Monotonic: a requirement holds only when a verified attestation proves it; anything
 * missing, unverifiable or off-limits denies, with a reason naming the evidence.
 */
import type { Requirement } from "../../spec/schema.js";
import { parseDuration } from "../../spec/units.js";
import type { AttestationVerdict } from "../attestation/attestation.js";
import { PREDICATE_TYPES, type PredicateShortName } from "../attestation/predicate-types.js";

const SEVERITY_ORDER = ["none", "low", "medium", "high", "critical"] as const;
type Severity = (typeof SEVERITY_ORDER)[number];

/** One candidate attestation after its signature, subject and signer were checked */
export interface CheckedAttestation {
  verdict: AttestationVerdict;
  /** The stage that produced it, for slo-evaluation's from_stage */
  stage: string | null;
}

export interface RequirementOutcome {
  requirement: string;
  satisfied: boolean;
  reason: string;
}

export function requirementName(requirement: Requirement): PredicateShortName {
  return (typeof requirement === "string" ? requirement : Object.keys(requirement)[0]) as PredicateShortName;
}

export function predicateTypeOf(requirement: Requirement): string {
  return PREDICATE_TYPES[requirementName(requirement)];
}

export function checkRequirement(
  requirement: Requirement,
  candidates: CheckedAttestation[],
  now: Date,
): RequirementOutcome {
  const name = requirementName(requirement);
  if (candidates.length === 0) return deny(name, `no ${name} attestation was recorded for this artifact`);
  const verified = candidates.filter((candidate) => candidate.verdict.valid);
  if (verified.length === 0) {
    const reasons = [...new Set(candidates.map((candidate) => candidate.verdict.reason))];
    return deny(name, `no ${name} attestation verifies: ${reasons.join("; ")}`);
  }
  const conditionFailures: string[] = [];
  for (const candidate of verified) {
    const failure = conditionFailure(requirement, candidate, now);
    if (failure === undefined) return { requirement: name, satisfied: true, reason: `${name}: verified` };
    conditionFailures.push(failure);
  }
  return deny(name, [...new Set(conditionFailures)].join("; "));
}

function conditionFailure(
  requirement: Requirement,
  candidate: CheckedAttestation,
  now: Date,
): string | undefined {
  if (typeof requirement === "string") return requirementDefaults(requirement, candidate);
  const predicate = candidate.verdict.statement?.predicate as Record<string, unknown> | undefined;
  if ("vulns" in requirement) {
    const { max_severity: maxSeverity, max_age: maxAge } = requirement.vulns;
    return (
      (maxAge === undefined
        ? undefined
        : databaseAgeFailure(predicate, parseDuration(maxAge), maxAge, now)) ??
      vulnsFailure(predicate, maxSeverity)
    );
  }
  if ("test-result" in requirement) {
    return requirement["test-result"].passed && predicate?.result !== "PASSED"
      ? `the test result is ${String(predicate?.result)}, not PASSED`
      : undefined;
  }
  if ("slo-evaluation" in requirement) {
    const { from_stage: fromStage, min_result: minResult } = requirement["slo-evaluation"];
    return sloFailure(predicate, candidate.stage, fromStage, minResult);
  }
  return undefined;
}

/** A bare name still asks what an experienced user expects of it: no vulns above medium, a passed gate. */
function requirementDefaults(name: string, candidate: CheckedAttestation): string | undefined {
  const predicate = candidate.verdict.statement?.predicate as Record<string, unknown> | undefined;
  if (name === "vulns") return vulnsFailure(predicate, "medium");
  if (name === "test-result") {
    return predicate?.result === "PASSED"
      ? undefined
      : `the test result is ${String(predicate?.result)}, not PASSED`;
  }
  if (name === "slo-evaluation") return sloFailure(predicate, candidate.stage, undefined, "pass");
  return undefined;
}

/** The database's newest advisory must be younger than max_age, or the scan may miss what is known. */
function databaseAgeFailure(
  predicate: Record<string, unknown> | undefined,
  maxAgeMs: number,
  maxAge: string | 0,
  now: Date,
): string | undefined {
  const lastUpdate = (predicate?.scanner as { db?: { lastUpdate?: unknown } } | undefined)?.db?.lastUpdate;
  const updated = typeof lastUpdate === "string" ? Date.parse(lastUpdate) : Number.NaN;
  if (Number.isNaN(updated)) return "the vulns attestation does not say how new its advisory database was";
  if (now.getTime() - updated <= maxAgeMs) return undefined;
  return `the advisory database was last updated ${lastUpdate as string}, more than ${String(maxAge)} before the check: import newer advisories (waybill advisories import)`;
}

function vulnsFailure(
  predicate: Record<string, unknown> | undefined,
  maxSeverity: Severity,
): string | undefined {
  const scanner = predicate?.scanner as {
    result?: { id: string; severity: { method: string; score: string }[] }[];
  };
  if (!Array.isArray(scanner?.result)) return "the vulns attestation has no scanner.result";
  const notScanned = predicate?.notScanned;
  if (!Array.isArray(notScanned)) {
    return "the vulns attestation does not say which ecosystems were scanned, so its empty result proves nothing";
  }
  if (notScanned.length > 0) {
    const listed = (notScanned as { ecosystem?: unknown; packages?: unknown }[])
      .map((entry) => `${String(entry.ecosystem)} (${String(entry.packages)} packages)`)
      .join(", ");
    return `nothing was scanned for ${listed}: the advisory database had no advisories for ${notScanned.length === 1 ? "that ecosystem" : "those ecosystems"}; put OSV advisories in <state>/advisories and ship again`;
  }
  const allowed = SEVERITY_ORDER.indexOf(maxSeverity);
  const over = scanner.result.filter((finding) => {
    const level = finding.severity.find((s) => s.method === "qualitative")?.score ?? "unknown";
    const rank = SEVERITY_ORDER.indexOf(level as Severity);
    return rank === -1 || rank > allowed;
  });
  if (over.length === 0) return undefined;
  const listed = over.slice(0, 5).map((finding) => {
    const level = finding.severity.find((s) => s.method === "qualitative")?.score ?? "unknown";
    return `${finding.id} (${level})`;
  });
  return `${over.length} vulnerabilit${over.length === 1 ? "y is" : "ies are"} above ${maxSeverity}: ${listed.join(", ")}${over.length > 5 ? ", …" : ""}`;
}

function sloFailure(
  predicate: Record<string, unknown> | undefined,
  stage: string | null,
  fromStage: string | undefined,
  minResult: "pass" | "warning",
): string | undefined {
  const evaluatedIn = (predicate?.stage as string | undefined) ?? stage;
  if (fromStage !== undefined && evaluatedIn !== fromStage) {
    return `the slo-evaluation is from ${evaluatedIn ?? "no stage"}, not ${fromStage}`;
  }
  const result = predicate?.result;
  const accepted = minResult === "warning" ? ["pass", "warning"] : ["pass"];
  return typeof result === "string" && accepted.includes(result)
    ? undefined
    : `the slo-evaluation${fromStage ? ` from ${fromStage}` : ""} is ${String(result)}, not ${accepted.join(" or ")}`;
}

function deny(requirement: string, reason: string): RequirementOutcome {
  return { requirement, satisfied: false, reason };
}
