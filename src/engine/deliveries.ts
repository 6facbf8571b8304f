/**
 * Starting deliveries: a ship records the service, its artifact and the artifact's own
 * evidence (SBOM, vulnerability scan, build provenance: signed by the control plane) and
 * queues the first stage, in one append; a rollback queues the stage's previous release again.
 */
import { artifactKindOf } from "../spec/target-kinds.js";
import { randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import { isAbsolute, relative, sep } from "node:path";
import type { ContentStore } from "../artifact/content-store.js";
import { ConflictError, NotFoundError, UserError } from "../errors.js";
import { PREDICATE_TYPES } from "../evidence/attestation/predicate-types.js";
import { buildProvenancePredicate, type ProvenanceInput } from "../evidence/attestation/provenance.js";
import type { EvidenceService } from "../evidence/evidence-service.js";
import { unresolvedDependencies } from "../evidence/sbom/declared.js";
import { generateSbom } from "../evidence/sbom/index.js";
import { importAdvisories } from "../evidence/vulns/import.js";
import { scanBom, vulnsPredicate } from "../evidence/vulns/index.js";
import { pinnedDigest } from "../artifact/image.js";
import { serviceSpecSchema, stageTargets, type ServiceSpec } from "../spec/schema.js";
import { newEvent, type NewEvent, type RightsizeBounds } from "../store/events.js";
import type { ArtifactRecord, RunRecord, Store } from "../store/store.js";
import type { Engine } from "./engine.js";
import type { Actor, StagePolicies } from "./policies.js";

export interface ShipRequest {
  spec: unknown;
  serviceDir: string;
  /** The artifact for local targets: a folder inside serviceDir, copied into the content store */
  artifactDir?: string | undefined;
  /** The artifact for Kubernetes targets: an image pinned by `digest` */
  image?: string | undefined;
  digest: string;
  version: string;
  /** What the build came from, for SLSA provenance; absent outside a git repository */
  build?: Omit<ProvenanceInput, "service" | "invocationId">;
}

export class Deliveries {
  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly artifacts: ContentStore,
    private readonly evidence: EvidenceService,
    private readonly advisoriesDir: string,
    private readonly policies: StagePolicies,
  ) {}

  /**
   * Records the artifact and queues its first stage. The stage policies are judged first, so a
   * ship that would weaken one is refused before anything is written.
   */
  async ship(request: ShipRequest, actor: Actor): Promise<{ shipId: string; runs: RunRecord[] }> {
    const parsed = serviceSpecSchema.safeParse(request.spec);
    if (!parsed.success) {
      throw new UserError(`the service spec is not valid: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    }
    const spec = parsed.data;
    const policyChanges = await this.policies.admit(spec, actor);
    const { path, mountPath } = await this.placeArtifact(spec, request);
    const name = spec.metadata.name;
    const shipId = randomUUID();
    const firstStage = spec.stages[0];
    if (firstStage === undefined) throw new UserError("the service has no stages");
    const recorded = [
      newEvent("service.registered", `services/${name}`, {
        name,
        dir: request.serviceDir,
        stages: spec.stages.map((stage) => stage.name),
      }),
      newEvent("artifact.recorded", `services/${name}/artifacts/${request.digest}`, {
        service: name,
        digest: request.digest,
        version: request.version,
        path,
        mountPath,
        spec,
      }),
      ...(await this.artifactEvidence(name, request, path, shipId)),
      ...policyChanges,
    ];
    // One append: the artifact, its evidence and its first run are recorded together or not at all.
    const run = await this.engine.enqueue(
      {
        shipId,
        kind: "ship",
        service: name,
        stage: firstStage.name,
        digest: request.digest,
        version: request.version,
      },
      { events: recorded, spec },
    );
    return { shipId: run.shipId, runs: [run] };
  }

  /**
   * A folder is copied into the content store under its digest; an image stays in its
   * registry, and its pinned reference is the artifact's path.
   */
  private async placeArtifact(
    spec: ServiceSpec,
    request: ShipRequest,
  ): Promise<{ path: string; mountPath: string }> {
    if (!isAbsolute(request.serviceDir)) throw new UserError("serviceDir must be an absolute path");
    await requireDirectory(request.serviceDir, "serviceDir");
    const toKubernetes = artifactKindOf(spec.stages.flatMap(stageTargets)) !== "folder";
    if (request.image !== undefined) {
      if (!toKubernetes) {
        throw new UserError(
          `the stages of ${spec.metadata.name} deploy to the local target, which runs a folder: ship artifactDir, not an image`,
        );
      }
      if (pinnedDigest(request.image) !== request.digest) {
        throw new UserError(`the image ${request.image} is not pinned to the digest ${request.digest}`);
      }
      return { path: request.image, mountPath: "." };
    }
    if (request.artifactDir === undefined) throw new UserError("give artifactDir or image");
    if (toKubernetes) {
      throw new UserError(
        `the stages of ${spec.metadata.name} deploy to Kubernetes, which runs an image: ship image, not a folder`,
      );
    }
    if (!isAbsolute(request.artifactDir)) throw new UserError("artifactDir must be an absolute path");
    const mountPath = relative(request.serviceDir, request.artifactDir) || ".";
    if (mountPath === ".." || mountPath.startsWith(`..${sep}`) || isAbsolute(mountPath)) {
      throw new UserError("the artifact must be inside the service folder");
    }
    await requireDirectory(request.artifactDir, "artifactDir");
    return { path: await this.artifacts.put(request.artifactDir, request.digest), mountPath };
  }

  /**
   * The SBOM comes from the artifact's own lockfiles and jars; an artifact that carries none
   * (a `dist/` folder), and an image, which stays in its registry, are described by the
   * service folder's lockfiles they were built from.
   * Advisories are imported from `<state>/advisories` (OSV files, folders or all.zip) into the
   * store's index by package whenever that folder changed.
   */
  private async artifactEvidence(
    service: string,
    request: ShipRequest,
    storedPath: string,
    shipId: string,
  ): Promise<NewEvent[]> {
    const subject = { name: service, digest: request.digest };
    const options = { name: service, version: request.version, digest: request.digest };
    const source = request.image === undefined ? storedPath : request.serviceDir;
    let { bom } = await generateSbom(source, options);
    if ((bom.components ?? []).length === 0 && source !== request.serviceDir) {
      ({ bom } = await generateSbom(request.serviceDir, options));
    }
    if ((bom.components ?? []).length === 0) {
      const unresolved = unresolvedDependencies(request.serviceDir);
      if (unresolved !== undefined) {
        throw new UserError(
          `an SBOM with no components would say this artifact has no dependencies, but ${unresolved}`,
        );
      }
    }
    await importAdvisories(this.store, this.advisoriesDir);
    const scan = await scanBom(bom, this.store);
    const vulns = vulnsPredicate(scan, {
      uri: "https://waybill.dev/scanner/osv",
      version: "0.1.0",
      db: { uri: `file://${this.advisoriesDir}` },
    });
    const predicates: [string, unknown][] = [
      [PREDICATE_TYPES.sbom, bom],
      [PREDICATE_TYPES.vulns, vulns],
    ];
    if (request.build !== undefined) {
      predicates.push([
        PREDICATE_TYPES.provenance,
        buildProvenancePredicate({ ...request.build, service, invocationId: shipId }),
      ]);
    }
    return predicates.map(([predicateType, predicate]) =>
      newEvent("attestation.recorded", `artifacts/${request.digest}/attestations`, {
        service,
        digest: request.digest,
        predicateType,
        stage: null,
        envelope: this.evidence.sign(predicateType, predicate, subject),
      }),
    );
  }

  /** Ships an artifact that was recorded before again, from the first stage. */
  async reship(artifact: ArtifactRecord): Promise<RunRecord> {
    const spec = serviceSpecSchema.parse(artifact.spec);
    const firstStage = spec.stages[0];
    if (firstStage === undefined) throw new UserError("the service has no stages");
    return this.engine.enqueue({
      shipId: randomUUID(),
      kind: "ship",
      service: artifact.service,
      stage: firstStage.name,
      digest: artifact.digest,
      version: artifact.version,
    });
  }

  async rollback(service: string, stage: string): Promise<RunRecord> {
    await this.requireStage(service, stage);
    const history = await this.store.releaseHistory(service, stage);
    const current = history[0];
    const previous = history.find((release) => current !== undefined && release.digest !== current.digest);
    if (current === undefined || previous === undefined) {
      throw new ConflictError(`${service}/${stage} has no earlier release to roll back to`);
    }
    return this.engine.enqueue({
      shipId: randomUUID(),
      kind: "rollback",
      service,
      stage,
      digest: previous.digest,
      version: previous.version,
    });
  }

  /** Queues a rightsizing experiment on the stage's live release. */
  async rightsize(service: string, stage: string, bounds: RightsizeBounds): Promise<RunRecord> {
    await this.requireStage(service, stage);
    const live = (await this.store.releaseHistory(service, stage))[0];
    if (live === undefined) {
      throw new ConflictError(
        `${service}/${stage} has no live release to rightsize: ship one there first (waybill ship)`,
      );
    }
    return this.engine.enqueue({
      shipId: randomUUID(),
      kind: "rightsize",
      service,
      stage,
      digest: live.digest,
      version: live.version,
      rightsize: bounds,
    });
  }

  async requireStage(service: string, stage: string): Promise<void> {
    const record = await this.store.getService(service);
    if (record === undefined) throw new NotFoundError(`no service named "${service}"`);
    if (!record.stages.includes(stage)) {
      throw new NotFoundError(
        `service "${service}" has no stage "${stage}" (stages: ${record.stages.join(", ")})`,
      );
    }
  }
}

/** A folder named in a request must be one: anything else is the caller's mistake, not ours. */
async function requireDirectory(path: string, field: string): Promise<void> {
  const found = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
    throw error;
  });
  if (found === undefined) throw new UserError(`${field} ${path} does not exist`);
  if (!found.isDirectory()) throw new UserError(`${field} ${path} is not a folder`);
}
