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
import { compareSeverity, isSeverity } from "../evidence/vulns/findings.js";
import { newEvent, type EventData } from "../store/events.js";
import type { ArtifactRecord, AttestationRecord, Store } from "../store/store.js";

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

/** Which page of an artifact's SBOM components to list, and the text their purl must contain */
export interface ComponentPage {
  filter: string;
  offset: number;
  limit: number;
}

/**
 * A page of the components of the artifact's signed SBOM. Only a verified SBOM is listed: an
 * unverified one is named with its reason and lists nothing, as its content proves nothing.
 */
export async function evidenceComponents(
  store: Store,
  evidence: EvidenceService,
  ref: string,
  page: ComponentPage,
) {
  const artifact = await findArtifact(store, ref);
  const chosen = await newestVerified(store, evidence, artifact.digest, PREDICATE_TYPES.sbom);
  const all = chosen?.valid === true ? componentsOf(chosen.predicate) : [];
  const needle = page.filter.trim().toLowerCase();
  const matching =
    needle === "" ? all : all.filter((component) => component.purl.toLowerCase().includes(needle));
  return {
    digest: artifact.digest,
    sbom: chosen === null ? null : chosen.source,
    total: all.length,
    matched: matching.length,
    offset: page.offset,
    limit: page.limit,
    components: matching.slice(page.offset, page.offset + page.limit),
  };
}

/** The findings of the artifact's signed vulnerability scan, most severe first */
export async function evidenceVulnerabilities(store: Store, evidence: EvidenceService, ref: string) {
  const artifact = await findArtifact(store, ref);
  const chosen = await newestVerified(store, evidence, artifact.digest, PREDICATE_TYPES.vulns);
  const scan = chosen?.valid === true ? vulnsOf(chosen.predicate) : null;
  const lastUpdate = scan?.scanner.db?.lastUpdate ?? null;
  const scannedAt = scan?.metadata?.scanFinishedOn ?? null;
  const ageMs =
    lastUpdate === null || scannedAt === null ? Number.NaN : Date.parse(scannedAt) - Date.parse(lastUpdate);
  const findings = (scan?.scanner.result ?? []).map((result) => {
    const qualitative = result.severity?.find((entry) => entry.method === "qualitative")?.score ?? "unknown";
    const cvss = Number(result.severity?.find((entry) => entry.method === "CVSS_V3")?.score);
    return {
      id: String(result.id),
      severity: qualitative,
      score: Number.isFinite(cvss) ? cvss : null,
    };
  });
  const rank = (severity: string) => (isSeverity(severity) ? severity : "unknown");
  findings.sort((a, b) => compareSeverity(rank(b.severity), rank(a.severity)) || a.id.localeCompare(b.id));
  return {
    digest: artifact.digest,
    scan: chosen === null ? null : chosen.source,
    scanner: scan === null ? null : { uri: String(scan.scanner.uri), version: String(scan.scanner.version) },
    scannedAt,
    database:
      scan === null
        ? null
        : {
            lastUpdate,
            ageDaysAtScan: Number.isFinite(ageMs) ? Math.max(0, Math.floor(ageMs / 86_400_000)) : null,
            advisories: scan.scanner.db?.advisories ?? {},
          },
    findings,
    notScanned: scan?.notScanned ?? [],
  };
}

interface Chosen {
  source: { recordedAt: string; stage: string | null; valid: boolean; reason?: string | null };
  valid: boolean;
  predicate: unknown;
}

/** The newest attestation of the type that verifies, else the newest of the type, else null */
async function newestVerified(
  store: Store,
  evidence: EvidenceService,
  digest: string,
  predicateType: string,
): Promise<Chosen | null> {
  const recorded: AttestationRecord[] = (await store.attestations(digest, predicateType)).reverse();
  let newest: Chosen | null = null;
  for (const attestation of recorded) {
    const verdict = evidence.verify(attestation.envelope, predicateType, digest);
    const chosen = {
      source: {
        recordedAt: attestation.recordedAt,
        stage: attestation.stage,
        valid: verdict.valid,
        reason: verdict.valid ? null : verdict.reason,
      },
      valid: verdict.valid,
      predicate: verdict.statement?.predicate,
    };
    if (verdict.valid) return chosen;
    newest ??= chosen;
  }
  return newest;
}

/** The predicate was signed by a trusted key over this digest; its shape is still read defensively */
function componentsOf(predicate: unknown) {
  const components = (predicate as { components?: unknown } | undefined)?.components;
  if (!Array.isArray(components)) return [];
  return components
    .map(
      (entry) =>
        entry as { purl?: unknown; name?: unknown; group?: unknown; version?: unknown; scope?: unknown },
    )
    .filter((entry) => typeof entry.purl === "string")
    .map((entry) => ({
      purl: String(entry.purl),
      name:
        typeof entry.group === "string" && entry.group !== ""
          ? `${entry.group}/${String(entry.name)}`
          : String(entry.name),
      version: typeof entry.version === "string" ? entry.version : "",
      scope: typeof entry.scope === "string" ? entry.scope : null,
    }))
    .sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
}

interface SignedScan {
  scanner: {
    uri?: unknown;
    version?: unknown;
    db?: { lastUpdate?: string; advisories?: Record<string, number> };
    result?: { id?: unknown; severity?: { method: string; score: string }[] }[];
  };
  metadata?: { scanFinishedOn?: string };
  notScanned?: { ecosystem: string; packages: number }[];
}

function vulnsOf(predicate: unknown): SignedScan | null {
  const scan = predicate as SignedScan | undefined;
  return typeof scan?.scanner === "object" && scan.scanner !== null ? scan : null;
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
