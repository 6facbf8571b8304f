/**
 * Folds one event into the projections. Called inside the transaction that appends the
 * event, and again for every event by rebuildProjections, so projections are always a pure
 * function of the log.
 */
import type { Transaction } from "kysely";
import { normalisePackageName, packageFromPurl } from "../evidence/vulns/packages.js";
import { shortType, type EventData, type StoredEvent } from "./events.js";
import type { Database } from "./schema.js";

type Data<K extends keyof EventData> = EventData[K];

export async function project(trx: Transaction<Database>, event: StoredEvent): Promise<void> {
  const runId = event.waybillrun;
  const type = shortType(event);
  switch (type) {
    case "service.registered": {
      const data = event.data as Data<"service.registered">;
      const row = { name: data.name, dir: data.dir, stages: JSON.stringify(data.stages) };
      await trx
        .insertInto("services")
        .values(row)
        .onConflict((c) => c.column("name").doUpdateSet({ dir: row.dir, stages: row.stages }))
        .execute();
      return;
    }
    case "artifact.recorded": {
      const data = event.data as Data<"artifact.recorded">;
      await trx
        .insertInto("artifacts")
        .values({
          service: data.service,
          digest: data.digest,
          version: data.version,
          path: data.path,
          mount_path: data.mountPath,
          spec: JSON.stringify(data.spec),
          created_at: event.time,
        })
        .onConflict((c) =>
          c
            .columns(["service", "digest"])
            .doUpdateSet({ version: data.version, spec: JSON.stringify(data.spec) }),
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
      const data = event.data as Data<"release.recorded">;
      await trx
        .updateTable("releases")
        .set({ replaced_at: event.time })
        .where("service", "=", data.service)
        .where("stage", "=", data.stage)
        .where("target", "=", data.target)
        .where("replaced_at", "is", null)
        .execute();
      await trx
        .insertInto("releases")
        .values({
          service: data.service,
          stage: data.stage,
          target: data.target,
          digest: data.digest,
          version: data.version,
          run_id: runId ?? "",
          released_at: event.time,
          replaced_at: null,
        })
        .execute();
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
      if (data.predicateType === SBOM_PREDICATE_TYPE) await projectInventory(trx, data);
      return;
    }
    default:
      return;
  }
}

const SBOM_PREDICATE_TYPE = "https://cyclonedx.org/bom";

/**
 * The inventory: the components of each artifact, from its SBOM attestation (the newest one
 * wins). Whether the attestation verifies is the policy's business, not the inventory's.
 */
async function projectInventory(
  trx: Transaction<Database>,
  data: Data<"attestation.recorded">,
): Promise<void> {
  let components: { purl?: string; version?: string; hashes?: { alg: string; content: string }[] }[];
  try {
    const statement = JSON.parse(Buffer.from(data.envelope.payload, "base64").toString("utf8")) as {
      predicate?: { components?: typeof components };
    };
    components = statement.predicate?.components ?? [];
  } catch {
    return;
  }
  await trx.deleteFrom("components").where("digest", "=", data.digest).execute();
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
  for (let start = 0; start < rows.length; start += 500) {
    await trx
      .insertInto("components")
      .values(rows.slice(start, start + 500))
      .execute();
  }
}

async function updateRun(
  trx: Transaction<Database>,
  runId: string | undefined,
  changes: Partial<Database["runs"]>,
): Promise<void> {
  if (runId === undefined) throw new Error("a run event has no waybillrun attribute");
  await trx.updateTable("runs").set(changes).where("id", "=", runId).execute();
}
