/**
 * Folds one event into the projections. Called inside the transaction that appends the
 * event, and again for every event by rebuildProjections, so projections are always a pure
 * function of the log.
 *
 * On PostgreSQL an append holds the append lock only at the end of its transaction
 * (kysely-store.ts), so its projections are split around the lock by `placementOf`: what
 * neither reads rows nor is contended by every append of a service (runs, evaluations,
 * attestations, policy changes) is written before the lock, with a placeholder where the
 * event's seq goes (`seqSlotOf`), filled in under the lock once the seqs are taken; services,
 * artifacts, the component inventory and releases (which replace the live release they read)
 * are written only under the lock (`lockedWrites`).
 */
import type { Kysely } from "kysely";
import { normalisePackageName, packageFromPurl } from "../evidence/vulns/packages.js";
import { shortType, type EventData, type StoredEvent } from "./events.js";
import type { Database } from "./schema.js";

type Data<K extends keyof EventData> = EventData[K];

export async function project(trx: Kysely<Database>, event: StoredEvent): Promise<void> {
  const runId = event.waybillrun;
  const type = shortType(event);
  switch (type) {
    case "service.registered": {
      const row = serviceRow(event);
      await trx
        .insertInto("services")
        .values(row)
        .onConflict((c) => c.column("name").doUpdateSet({ dir: row.dir, stages: row.stages }))
        .execute();
      return;
    }
    case "artifact.recorded": {
      const row = artifactRow(event);
      await trx
        .insertInto("artifacts")
        .values(row)
        .onConflict((c) =>
          c.columns(["service", "digest"]).doUpdateSet({ version: row.version, spec: row.spec }),
        )
        .execute();
      return;
    }
    case "run.queued": {
      const data = event.data as unknown as Data<"run.queued">;
      await trx
        .insertInto("runs")
        .values({
          id: data.runId,
          queue_seq: event.seq,
          ship_id: data.shipId,
          kind: data.kind,
          service: data.service,
          stage: data.stage,
          stage_index: data.stageIndex,
          digest: data.digest,
          version: data.version,
          state: "queued",
          result: null,
          task: null,
          reason: null,
          created_at: event.time,
          started_at: null,
          finished_at: null,
        })
        .execute();
      return;
    }
    case "run.started":
      return updateRun(trx, runId, { state: "running", started_at: event.time });
    case "task.started":
      return updateRun(trx, runId, { task: (event.data as Data<"task.started">).task });
    case "task.failed":
      return updateRun(trx, runId, { reason: (event.data as Data<"task.failed">).reason });
    case "run.result":
      return updateRun(trx, runId, { result: (event.data as Data<"run.result">).result });
    case "run.waiting-approval":
      return updateRun(trx, runId, { state: "waiting-approval", task: "approve" });
    case "run.approved":
      return updateRun(trx, runId, { state: "running" });
    case "run.rejected":
      return updateRun(trx, runId, { state: "running", reason: (event.data as Data<"run.rejected">).reason });
    case "run.rolling-back":
      return updateRun(trx, runId, {
        state: "rolling-back",
        reason: (event.data as Data<"run.rolling-back">).reason,
      });
    case "run.finished": {
      const data = event.data as Data<"run.finished">;
      return updateRun(trx, runId, {
        state: data.state,
        finished_at: event.time,
        ...(data.reason === undefined ? {} : { reason: data.reason }),
      });
    }
    case "policy.changed": {
      const data = event.data as unknown as Data<"policy.changed">;
      await trx
        .insertInto("policy_changes")
        .values({
          seq: event.seq,
          service: data.service,
          stage: data.stage,
          changed_by: data.by,
          reason: data.reason,
          previous: data.previous === null ? null : JSON.stringify(data.previous),
          policy: JSON.stringify(data.policy),
          created_at: event.time,
        })
        .execute();
      return;
    }
    case "release.recorded": {
      const row = releaseRow(event);
      await trx
        .updateTable("releases")
        .set({ replaced_at: row.released_at })
        .where("service", "=", row.service)
        .where("stage", "=", row.stage)
        .where("target", "=", row.target)
        .where("replaced_at", "is", null)
        .execute();
      await trx.insertInto("releases").values(row).execute();
      return;
    }
    case "evaluation.recorded": {
      const data = event.data as unknown as Data<"evaluation.recorded">;
      await trx
        .insertInto("evaluations")
        .values({
          run_id: runId ?? "",
          seq: event.seq,
          service: data.service,
          stage: data.stage,
          digest: data.digest,
          version: data.version,
          result: data.result,
          score: data.score,
          record: JSON.stringify(data),
          created_at: event.time,
        })
        .onConflict((c) => c.column("run_id").doUpdateSet({ seq: event.seq, record: JSON.stringify(data) }))
        .execute();
      return;
    }
    case "attestation.recorded": {
      await projectAttestation(trx, event);
      const inventory = inventoryOf(event);
      if (inventory !== undefined) await projectInventory(trx, inventory);
      return;
    }
    default:
      return;
  }
}

/**
 * The part of `project` an append on PostgreSQL makes before it takes the append lock: the
 * event's seq is a placeholder there (see `seqSlotOf`). The rest is `lockedWrites`.
 */
export async function projectBeforeLock(trx: Kysely<Database>, event: StoredEvent): Promise<void> {
  switch (placementOf(event)) {
    case "before-lock":
      return project(trx, event);
    case "under-lock":
      if (shortType(event) === "attestation.recorded") await projectAttestation(trx, event);
      return;
  }
}

export type Placement = "before-lock" | "under-lock";

export function placementOf(event: StoredEvent): Placement {
  switch (shortType(event)) {
    case "service.registered":
    case "artifact.recorded":
    case "attestation.recorded":
    case "release.recorded":
      return "under-lock";
    default:
      return "before-lock";
  }
}

/** Where an event's seq is written by `project`: the row's table, the column, and the key that finds the row */
export interface SeqSlot {
  table: "runs" | "policy_changes" | "evaluations" | "attestations";
  column: "queue_seq" | "seq";
  /** A column that, with the placeholder, finds the row by its key; none where the seq column is indexed */
  key?: { column: "id" | "run_id"; value: string };
}

export function seqSlotOf(event: StoredEvent): SeqSlot | undefined {
  switch (shortType(event)) {
    case "run.queued":
      return {
        table: "runs",
        column: "queue_seq",
        key: { column: "id", value: (event.data as unknown as Data<"run.queued">).runId },
      };
    case "policy.changed":
      return { table: "policy_changes", column: "seq" };
    case "evaluation.recorded":
      return {
        table: "evaluations",
        column: "seq",
        key: { column: "run_id", value: event.waybillrun ?? "" },
      };
    case "attestation.recorded":
      return { table: "attestations", column: "seq" };
    default:
      return undefined;
  }
}

/**
 * What the events' services, artifacts and inventory projections come to, folded as `project`
 * would fold them one by one: the newest registration of a service; an artifact's first path,
 * mount path and time with its newest version and spec; the newest SBOM's components of a digest.
 */
export interface LockedWrites {
  services: Database["services"][];
  artifacts: Database["artifacts"][];
  /** The digests whose components are replaced, and the components that replace them */
  inventoryDigests: string[];
  components: Database["components"][];
  /** In the order given: each replaces the live release of its stage and target */
  releases: Omit<Database["releases"], "id">[];
}

export function lockedWrites(events: StoredEvent[]): LockedWrites {
  const services = new Map<string, Database["services"]>();
  const artifacts = new Map<string, Database["artifacts"]>();
  const inventories = new Map<string, Database["components"][]>();
  const releases: Omit<Database["releases"], "id">[] = [];
  for (const event of events) {
    switch (shortType(event)) {
      case "service.registered": {
        const row = serviceRow(event);
        services.set(row.name, row);
        break;
      }
      case "artifact.recorded": {
        const row = artifactRow(event);
        const key = `${row.service}\u0000${row.digest}`;
        const first = artifacts.get(key);
        artifacts.set(key, first === undefined ? row : { ...first, version: row.version, spec: row.spec });
        break;
      }
      case "attestation.recorded": {
        const inventory = inventoryOf(event);
        if (inventory !== undefined) inventories.set(inventory.digest, inventory.rows);
        break;
      }
      case "release.recorded":
        releases.push(releaseRow(event));
        break;
    }
  }
  return {
    services: [...services.values()],
    artifacts: [...artifacts.values()],
    inventoryDigests: [...inventories.keys()],
    components: [...inventories.values()].flat(),
    releases,
  };
}

function releaseRow(event: StoredEvent): Omit<Database["releases"], "id"> {
  const data = event.data as Data<"release.recorded">;
  return {
    service: data.service,
    stage: data.stage,
    target: data.target,
    digest: data.digest,
    version: data.version,
    run_id: event.waybillrun ?? "",
    released_at: event.time,
    replaced_at: null,
  };
}

function serviceRow(event: StoredEvent): Database["services"] {
  const data = event.data as Data<"service.registered">;
  return { name: data.name, dir: data.dir, stages: JSON.stringify(data.stages) };
}

function artifactRow(event: StoredEvent): Database["artifacts"] {
  const data = event.data as Data<"artifact.recorded">;
  return {
    service: data.service,
    digest: data.digest,
    version: data.version,
    path: data.path,
    mount_path: data.mountPath,
    spec: JSON.stringify(data.spec),
    created_at: event.time,
  };
}

async function projectAttestation(trx: Kysely<Database>, event: StoredEvent): Promise<void> {
  const data = event.data as unknown as Data<"attestation.recorded">;
  await trx
    .insertInto("attestations")
    .values({
      seq: event.seq,
      service: data.service,
      digest: data.digest,
      predicate_type: data.predicateType,
      stage: data.stage,
      envelope: JSON.stringify(data.envelope),
      created_at: event.time,
    })
    .execute();
}

const SBOM_PREDICATE_TYPE = "https://cyclonedx.org/bom";

/**
 * The inventory: the components of each artifact, from its SBOM attestation (the newest one
 * wins). Whether the attestation verifies is the policy's business, not the inventory's.
 */
function inventoryOf(event: StoredEvent): { digest: string; rows: Database["components"][] } | undefined {
  const data = event.data as unknown as Data<"attestation.recorded">;
  if (data.predicateType !== SBOM_PREDICATE_TYPE) return undefined;
  let components: { purl?: string; version?: string; hashes?: { alg: string; content: string }[] }[];
  try {
    const statement = JSON.parse(Buffer.from(data.envelope.payload, "base64").toString("utf8")) as {
      predicate?: { components?: typeof components };
    };
    components = statement.predicate?.components ?? [];
  } catch {
    return undefined;
  }
  const rows = components.flatMap((component) => {
    const parsed = component.purl === undefined ? undefined : packageFromPurl(component.purl);
    if (parsed === undefined || !parsed.ok) return [];
    const { ecosystem, name, version } = parsed.pkg;
    return [
      {
        digest: data.digest,
        service: data.service,
        ecosystem,
        name: normalisePackageName(ecosystem, name),
        version,
        purl: component.purl ?? "",
        hashes: JSON.stringify(component.hashes ?? []),
      },
    ];
  });
  return { digest: data.digest, rows };
}

async function projectInventory(
  trx: Kysely<Database>,
  { digest, rows }: { digest: string; rows: Database["components"][] },
): Promise<void> {
  await trx.deleteFrom("components").where("digest", "=", digest).execute();
  for (let start = 0; start < rows.length; start += 500) {
    await trx
      .insertInto("components")
      .values(rows.slice(start, start + 500))
      .execute();
  }
}

async function updateRun(
  trx: Kysely<Database>,
  runId: string | undefined,
  changes: Partial<Database["runs"]>,
): Promise<void> {
  if (runId === undefined) throw new Error("a run event has no waybillrun attribute");
  await trx.updateTable("runs").set(changes).where("id", "=", runId).execute();
}
