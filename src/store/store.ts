/**
 * The store: an append-only CloudEvents log plus the projections folded from it. This is the
 * interface both backends follow (KyselyStore on SQLite or PostgreSQL). Appending is atomic:
 * the events of one call and their projections commit together or not at all. The process
 * table (pids, ports) is not here: it is each machine's own (machine-state.ts).
 */
import type { Osv } from "../evidence/vulns/osv.js";
import type { AdvisoryStore } from "../evidence/vulns/store.js";
import type { MetricsQuery, MetricsRows } from "./metrics-queries.js";
import type { StatusRows } from "./status-queries.js";
import type { ClaimOptions, LeaseClaim, LeaseFence, LeaseHolder } from "./leases.js";
import type {
  EvaluationRecordData,
  EventData,
  GateResult,
  NewEvent,
  PolicyChangeData,
  RunKind,
  RunState,
  StoredEvent,
} from "./events.js";

export interface ServiceRecord {
  name: string;
  dir: string;
  stages: string[];
}

export interface ArtifactRecord {
  service: string;
  digest: string;
  version: string;
  /** content-addressed copy under the state dir */
  path: string;
  /** where the artifact sits inside the service folder, e.g. "dist" or "." */
  mountPath: string;
  spec: unknown;
  createdAt: string;
}

export interface RunRecord {
  id: string;
  shipId: string;
  kind: RunKind;
  service: string;
  stage: string;
  stageIndex: number;
  digest: string;
  version: string;
  state: RunState;
  result: GateResult | null;
  task: string | null;
  reason: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface ReleaseRecord {
  service: string;
  stage: string;
  target: string;
  digest: string;
  version: string;
  runId: string;
  releasedAt: string;
  replacedAt: string | null;
}

export interface EvaluationRecord extends EvaluationRecordData {
  runId: string;
  recordedAt: string;
}

export interface AttestationRecord {
  service: string;
  digest: string;
  predicateType: string;
  stage: string | null;
  envelope: EventData["attestation.recorded"]["envelope"];
  recordedAt: string;
}

/** A component of an artifact that has been deployed, with each deployment */
export interface DeployedComponent {
  purl: string;
  ecosystem: string;
  name: string;
  version: string;
  release: ReleaseRecord;
}

export interface InventoryRow {
  digest: string;
  service: string;
  purl: string;
  hashes: { alg: string; content: string }[];
}

/** One change of a stage's protected policy, as the log recorded it */
export interface PolicyChangeRecord extends PolicyChangeData {
  changedAt: string;
}

/** A page of services in name order: those after `after`, at most `limit` */
export interface ServicePage {
  after?: string;
  limit?: number;
}

export interface RunFilter {
  service?: string;
  /** Runs of any of these services */
  services?: readonly string[];
  /** With `service`: the runs of this stage only */
  stage?: string;
  shipId?: string;
  states?: RunState[];
  limit?: number;
  /** With `limit`: the oldest runs, not the newest */
  oldest?: boolean;
}

/**
 * The store also keeps the OSV advisories, indexed by package (the vulnerability scanner's
 * AdvisoryStore port) and by id and alias (for recall).
 */
export interface Store extends AdvisoryStore {
  /** With a fence, refused (LeaseLostError, nothing written) unless that replica still holds the run */
  append(events: NewEvent[], options?: { fence?: LeaseFence }): Promise<StoredEvent[]>;

  /** Run leases between control-plane replicas (leases.ts) */
  claimRun(runId: string, holder: LeaseHolder, options: ClaimOptions): Promise<LeaseClaim>;
  renewRun(runId: string, replica: string, ttlMs: number): Promise<boolean>;
  releaseRun(runId: string, replica: string): Promise<void>;
  events(filter?: { run?: string; afterSeq?: number; limit?: number }): Promise<StoredEvent[]>;
  /**
   * The seq of the newest event, 0 for an empty log. Every change of a projection appends an
   * event in the same transaction, so an answer read from the projections stays right while
   * this stays the same (server/read-cache.ts).
   */
  head(): Promise<number>;

  getService(name: string): Promise<ServiceRecord | undefined>;
  /** By name; every one, or a page */
  listServices(page?: ServicePage): Promise<ServiceRecord[]>;
  getArtifact(service: string, digest: string): Promise<ArtifactRecord | undefined>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Oldest first, in queue order */
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;
  /** What is live now in each target of the stage(s) */
  currentReleases(service: string, stage?: string): Promise<ReleaseRecord[]>;
  /** Every release of the stage, newest first */
  releaseHistory(service: string, stage: string): Promise<ReleaseRecord[]>;

  /** A stage's performance signatures, newest first */
  evaluations(service: string, stage?: string): Promise<EvaluationRecord[]>;

  /** The attestations recorded about an artifact, oldest first */
  attestations(digest: string, predicateType?: string): Promise<AttestationRecord[]>;
  /** Artifacts recorded under a digest (one per service that shipped it) */
  artifactsByDigest(digest: string): Promise<ArtifactRecord[]>;
  /** The distinct artifact digests that start with `sha256:<hex prefix>`, at most 20 */
  digestsWithPrefix(prefix: string): Promise<string[]>;
  /** The newest artifact of a service with this version label */
  artifactByVersion(service: string, version: string): Promise<ArtifactRecord | undefined>;
  /** Every release of an artifact, in any stage and target, newest first */
  releasesOf(digest: string): Promise<ReleaseRecord[]>;

  /** Every deployment, current and past, of artifacts containing the package, in any version */
  deployedComponents(ecosystem: string, name: string): Promise<DeployedComponent[]>;
  /** Inventory rows of the purls that carry more than one distinct hash across artifacts */
  driftCandidates(): Promise<InventoryRow[]>;

  /** An advisory by its id or any of its aliases */
  advisoryById(id: string): Promise<Osv | undefined>;
  /** What a source of advisories looked like when it was last imported */
  advisoryImportFingerprint(source: string): Promise<string | undefined>;
  recordAdvisoryImport(source: string, fingerprint: string): Promise<void>;

  /** Changes of stage policies, newest first; `service` "*" holds the defaults for every service */
  policyChanges(filter?: { service?: string; stage?: string }): Promise<PolicyChangeRecord[]>;

  /** What the Prometheus metrics and DORA's four read: aggregates and a window's deliveries (metrics-queries.ts) */
  metricsRows(query: MetricsQuery): Promise<MetricsRows>;

  /** Where every stage (of the named services, when named) stands, read in bulk (status-queries.ts) */
  statusRows(services?: string | readonly string[]): Promise<StatusRows>;

  /** Drops the projections and folds the whole log again */
  rebuildProjections(): Promise<void>;

  close(): Promise<void>;
}
