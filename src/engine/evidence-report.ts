/**
 * An artifact's evidence as the API shows it: each attestation verified, with a line of what it
 * says, and where the artifact ran; and recording an attestation a client sends.
 */
import { ConflictError, NotFoundError, UserError } from "../errors.js";
import { decodePayload, parseEnvelope } from "../evidence/attestation/dsse.js";
import { PREDICATE_TYPES } from "../evidence/attestation/predicate-types.js";
import {
  parseMinimumEnvironment,
  type MinimumEnvironmentPredicate,
} from "../evidence/attestation/minimum-environment.js";
import { describeSubjects, parseStatement } from "../evidence/attestation/statement.js";
import type { EvidenceService } from "../evidence/evidence-service.js";
import { newEvent, type EventData } from "../store/events.js";
import type { ArtifactRecord, Store } from "../store/store.js";

type Envelope = EventData["attestation.recorded"]["envelope"];

export async function evidenceReport(store: Store, evidence: EvidenceService, ref: string) {
  const artifact = await findArtifact(store, ref);
  const attestations = await store.attestations(artifact.digest);
  return {
    artifact: { service: artifact.service, version: artifact.version, digest: artifact.digest },
    attestations: attestations.map((attestation) => {
      const verdict = evidence.verify(attestation.envelope, attestation.predicateType, artifact.digest);
      return {
        predicateType: attestation.predicateType,
        stage: attestation.stage,
        recordedAt: attestation.recordedAt,
        valid: verdict.valid,
        reason: verdict.reason,
        signedBy: verdict.acceptedBy,
        ...summaryOf(attestation.predicateType, verdict.statement?.predicate),
      };
    }),
    deployments: (await store.releasesOf(artifact.digest)).map((release) => ({
      service: release.service,
      stage: release.stage,
      target: release.target,
      from: release.releasedAt,
      until: release.replacedAt,
    })),
  };
}

/** The envelopes of an artifact's attestations, oldest first (for a bundle) */
export async function evidenceEnvelopes(store: Store, ref: string): Promise<Envelope[]> {
  const artifact = await findArtifact(store, ref);
  return (await store.attestations(artifact.digest)).map((attestation) => attestation.envelope);
}

/** Records an envelope about every artifact its statement's subjects name, each verified */
export async function recordAttestation(store: Store, evidence: EvidenceService, envelope: Envelope) {
  const statement = parseStatement(decodePayload(parseEnvelope(envelope)));
  const recorded = [];
  for (const subject of statement.subject) {
    const digest = `sha256:${subject.digest.sha256 ?? ""}`;
    for (const artifact of await store.artifactsByDigest(digest)) {
      await store.append([
        newEvent("attestation.recorded", `artifacts/${digest}/attestations`, {
          service: artifact.service,
          digest,
          predicateType: statement.predicateType,
          stage: null,
          envelope,
        }),
      ]);
      const verdict = evidence.verify(envelope, statement.predicateType, digest);
      recorded.push({ service: artifact.service, digest, valid: verdict.valid, reason: verdict.reason });
    }
  }
  if (recorded.length === 0) {
    throw new NotFoundError(
      `no artifact is recorded for the subject(s): ${describeSubjects(statement).join(", ")}`,
    );
  }
  return { predicateType: statement.predicateType, recorded };
}

const MIN_DIGEST_PREFIX = 7;

/** An artifact by `service@version`, or by `sha256:…` digest (a prefix of 7 or more hex digits will do). */
export async function findArtifact(store: Store, ref: string): Promise<ArtifactRecord> {
  const at = ref.lastIndexOf("@");
  if (!ref.startsWith("sha256:") && at > 0) {
    const found = await store.artifactByVersion(ref.slice(0, at), ref.slice(at + 1));
    if (found === undefined) throw new NotFoundError(`no artifact ${ref}`);
    return found;
  }
  const hex = ref.startsWith("sha256:") ? ref.slice("sha256:".length) : ref;
  if (!new RegExp(`^[0-9a-f]{${MIN_DIGEST_PREFIX},64}$`).test(hex)) {
    throw new UserError(
      `"${ref}" names no artifact: give service@version, or sha256: followed by ${MIN_DIGEST_PREFIX} to 64 lowercase hex digits`,
    );
  }
  const digests = await store.digestsWithPrefix(`sha256:${hex}`);
  if (digests.length > 1) {
    throw new ConflictError(
      `"${ref}" matches ${digests.length} artifacts (${digests.map((d) => d.slice(0, 19)).join(", ")}): give more digits`,
    );
  }
  const [digest] = digests;
  const [artifact] = digest === undefined ? [] : await store.artifactsByDigest(digest);
  if (artifact === undefined) {
    throw new NotFoundError(`no artifact matches "${ref}" (give sha256:<digest> or service@version)`);
  }
  return artifact;
}

/** A line of what a predicate says, so a person sees the evidence without decoding it. */
function summaryOf(predicateType: string, predicate: unknown): { summary?: string } {
  const body = predicate as Record<string, unknown> | undefined;
  if (body === undefined) return {};
  if (predicateType === PREDICATE_TYPES.sbom) {
    const components = (body.components as unknown[] | undefined) ?? [];
    return { summary: `${components.length} components` };
  }
  if (predicateType === PREDICATE_TYPES.vulns) {
    const results = ((body.scanner as { result?: unknown[] } | undefined)?.result ?? []).length;
    return { summary: `${results} vulnerabilit${results === 1 ? "y" : "ies"}` };
  }
  if (predicateType === PREDICATE_TYPES["slo-evaluation"]) {
    return { summary: `${String(body.result)} with score ${String(body.score)} in ${String(body.stage)}` };
  }
  if (predicateType === PREDICATE_TYPES["test-result"]) return { summary: String(body.result) };
  if (predicateType === PREDICATE_TYPES["minimum-environment"]) {
    const report = parseMinimumEnvironment(predicate);
    return report === null ? {} : { summary: minimumEnvironmentSummary(report) };
  }
  return {};
}

function minimumEnvironmentSummary(report: MinimumEnvironmentPredicate): string {
  const parts: string[] = [];
  if (report.sizing !== null) {
    const { recommended, provenMinimum, steps } = report.sizing;
    parts.push(
      `recommends cpu ${recommended.cpu}, memory ${recommended.memory} (proven minimum cpu ${provenMinimum.cpu}, memory ${provenMinimum.memory}; ${steps.length} steps)`,
    );
  }
  const limits = report.runtimeLimits;
  if (limits !== null) {
    parts.push(
      "unobservable" in limits
        ? `runtime limits not checked: ${limits.unobservable}`
        : limits.mismatches.length === 0
          ? `the ${limits.runtime} runtime sees its limits`
          : `runtime limits mismatch: ${limits.mismatches.join("; ")}`,
    );
  }
  const dependencies = report.dependencies;
  if (dependencies !== null && dependencies.recorded) {
    parts.push(
      `${dependencies.neverLoaded.length} declared package(s) never loaded under the test load (${dependencies.shareOfArtifactPct}% of the artifact)`,
    );
  }
  return `${parts.join("; ")} in ${report.stage}`;
}
