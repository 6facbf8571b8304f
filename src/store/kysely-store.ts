/**
 * The store on kysely, one implementation for both dialects: SQLite (the embedded default,
 * sqlite-store.ts) and PostgreSQL (postgres-store.ts, shared by the replicas of a team control
 * plane). Where the dialects differ the store says so here, next to the query.
 *
 * Appends are serialised on PostgreSQL with a transaction-scoped advisory lock, so an event's
 * `seq` is taken and committed in the same order by every process: a reader that tails the
 * log by `afterSeq` never skips an event that commits after a higher one. Everything but the
 * seq is prepared before the lock, and an append's events go in one INSERT.
 */
import { IntegrationStore, type IntegrationTables } from "./integration-store.js";
import { TokenStore } from "./token-store.js";
import { randomUUID } from "node:crypto";
import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import type { Osv } from "../evidence/vulns/osv.js";
import type { AdvisoryCoverage } from "../evidence/vulns/store.js";
import { packageKey } from "../evidence/vulns/packages.js";
import {
  EVENT_SOURCE,
  EVENT_TYPE_PREFIX,
  type EvaluationRecordData,
  type EventData,
  type NewEvent,
  type PolicyChangeReason,
  type StoredEvent,
} from "./events.js";
import type { ProtectedPolicy } from "../policy/protected-policy.js";
import type { EnvSealer } from "./env-sealer.js";
import type { Dialect } from "./migrations.js";
import { metricsRows, type MetricsQuery, type MetricsRows } from "./metrics-queries.js";
import { statusRows, type StatusRows } from "./status-queries.js";
import {
  assertHolds,
  claimRun,
  releaseRun,
  renewRun,
  type ClaimOptions,
  type LeaseClaim,
  type LeaseFence,
  type LeaseHolder,
  type LeaseTables,
} from "./leases.js";
import { project } from "./projector.js";
import type { Database as Tables } from "./schema.js";
import type {
  ArtifactRecord,
  AttestationRecord,
  DeployedComponent,
  EvaluationRecord,
  InventoryRow,
  PolicyChangeRecord,
  ReleaseRecord,
  RunFilter,
  RunRecord,
  ServicePage,
  ServiceRecord,
  Store,
} from "./store.js";

/** Keys of PostgreSQL's transaction-scoped advisory locks ("wayb" + a number) */
const APPEND_LOCK = 0x77617962_01;
const ADVISORY_INDEX_LOCK = 0x77617962_02;
/** Rows per INSERT: seven parameters a row stays well under either dialect's limit */
const INSERT_CHUNK = 1000;

export interface KyselyStoreOptions {
  /** Seals environment values at rest; without it they are stored as given (tests) */
  sealer?: EnvSealer;
}

export class KyselyStore implements Store {
  constructor(
    private readonly db: Kysely<Tables>,
    readonly dialect: Dialect,
    private readonly sealer: EnvSealer | undefined,
    private readonly onClose: () => Promise<void> = () => db.destroy(),
  ) {}

  /** The API tokens kept in this database (`token-store.ts`) */
  tokenStore(): TokenStore {
    return new TokenStore(this.db);
  }

  /** CloudEvents received and webhooks sent, kept in this database (`integration-store.ts`) */
  integrationStore(): IntegrationStore {
    // The integration tables live in this database (migration 0010); their store names only them.
    return new IntegrationStore(this.db as unknown as Kysely<IntegrationTables>, this.sealer);
  }

  /**
   * On PostgreSQL, waits for the lock until the transaction ends. SQLite needs none: it has one
   * writer at a time, and this process reaches it through one connection.
   */
  private async exclusive(trx: Transaction<Tables>, key: number): Promise<void> {
    if (this.dialect === "postgres") await sql`select pg_advisory_xact_lock(${key})`.execute(trx);
  }

  /**
   * The index key of a package. PostgreSQL text cannot hold NUL, which separates ecosystem and
   * name in `packageKey`; there the separator is U+0001, which neither can contain either.
   */
  private packageKeyOf(ecosystem: string, name: string): string {
    const key = packageKey(ecosystem, name);
    return this.dialect === "postgres" ? key.replace("\u0000", "\u0001") : key;
  }

  async append(events: NewEvent[], options: { fence?: LeaseFence } = {}): Promise<StoredEvent[]> {
    // Everything but the seq is ready before any lock is taken.
    const rows = events.map((event) => ({
      id: randomUUID(),
      source: EVENT_SOURCE,
      type: EVENT_TYPE_PREFIX + event.type,
      time: new Date().toISOString(),
      subject: event.subject,
      run_id: event.run ?? null,
      data: JSON.stringify(this.sealed(event)),
    }));
    return this.db.transaction().execute(async (trx) => {
      await this.exclusive(trx, APPEND_LOCK);
      if (options.fence !== undefined)
        await assertHolds(trx as unknown as Transaction<LeaseTables>, this.dialect, options.fence);
      return this.projected(trx, rows, await insertEvents(trx, rows));
    });
  }

  private async projected(
    trx: Transaction<Tables>,
    rows: Omit<Selectable<Tables["events"]>, "seq">[],
    seqs: Map<string, number>,
  ): Promise<StoredEvent[]> {
    const stored: StoredEvent[] = [];
    for (const row of rows) {
      const cloudEvent = toCloudEvent({ ...row, seq: seqs.get(row.id) ?? Number.NaN });
      await project(trx, cloudEvent);
      stored.push(this.opened(cloudEvent));
    }
    return stored;
  }

  /** The lease tables live in this database (migration 0012); leases.ts names only them. */
  private get leases(): Kysely<LeaseTables> {
    return this.db as unknown as Kysely<LeaseTables>;
  }

  claimRun(runId: string, holder: LeaseHolder, options: ClaimOptions): Promise<LeaseClaim> {
    return claimRun(this.leases, this.dialect, runId, holder, options);
  }

  renewRun(runId: string, replica: string, ttlMs: number): Promise<boolean> {
    return renewRun(this.leases, this.dialect, runId, replica, ttlMs);
  }

  releaseRun(runId: string, replica: string): Promise<void> {
    return releaseRun(this.leases, runId, replica);
  }

  async events(filter: { run?: string; afterSeq?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    let query = this.db.selectFrom("events").selectAll().orderBy("seq");
    if (filter.run !== undefined) query = query.where("run_id", "=", filter.run);
    if (filter.afterSeq !== undefined) query = query.where("seq", ">", filter.afterSeq);
    if (filter.limit !== undefined) query = query.limit(filter.limit);
    return (await query.execute()).map((row) => this.opened(toCloudEvent(row)));
  }

  /** An artifact's spec is stored with its environment values sealed. */
  private sealed(event: NewEvent): NewEvent["data"] {
    if (this.sealer === undefined || event.type !== "artifact.recorded") return event.data;
    const data = event.data as EventData["artifact.recorded"];
    return { ...data, spec: this.sealer.sealSpec(data.spec) };
  }

  private opened(event: StoredEvent): StoredEvent {
    if (this.sealer === undefined || event.type !== EVENT_TYPE_PREFIX + "artifact.recorded") return event;
    return { ...event, data: { ...event.data, spec: this.sealer.openSpec(event.data.spec) } };
  }

  async getService(name: string): Promise<ServiceRecord | undefined> {
    const row = await this.db.selectFrom("services").selectAll().where("name", "=", name).executeTakeFirst();
    return row && toService(row);
  }

  async listServices(page: ServicePage = {}): Promise<ServiceRecord[]> {
    let query = this.db.selectFrom("services").selectAll().orderBy("name");
    if (page.after !== undefined) query = query.where("name", ">", page.after);
    if (page.limit !== undefined) query = query.limit(page.limit);
    return (await query.execute()).map(toService);
  }

  async getArtifact(service: string, digest: string): Promise<ArtifactRecord | undefined> {
    const row = await this.db
      .selectFrom("artifacts")
      .selectAll()
      .where("service", "=", service)
      .where("digest", "=", digest)
      .executeTakeFirst();
    return (
      row && {
        service: row.service,
        digest: row.digest,
        version: row.version,
        path: row.path,
        mountPath: row.mount_path,
        spec:
          this.sealer === undefined
            ? (JSON.parse(row.spec) as unknown)
            : this.sealer.openSpec(JSON.parse(row.spec)),
        createdAt: row.created_at,
      }
    );
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toRun(row);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    let query = this.db.selectFrom("runs").selectAll();
    if (filter.service !== undefined) query = query.where("service", "=", filter.service);
    if (filter.services !== undefined) {
      if (filter.services.length === 0) return [];
      query = query.where("service", "in", filter.services);
    }
    if (filter.shipId !== undefined) query = query.where("ship_id", "=", filter.shipId);
    if (filter.states !== undefined) query = query.where("state", "in", filter.states);
    if (filter.limit !== undefined) {
      const newest = await query.orderBy("queue_seq", "desc").limit(filter.limit).execute();
      return newest.reverse().map(toRun);
    }
    return (await query.orderBy("queue_seq").execute()).map(toRun);
  }

  async currentReleases(service: string, stage?: string): Promise<ReleaseRecord[]> {
    let query = this.db
      .selectFrom("releases")
      .selectAll()
      .where("service", "=", service)
      .where("replaced_at", "is", null);
    if (stage !== undefined) query = query.where("stage", "=", stage);
    return (await query.orderBy("id").execute()).map(toRelease);
  }

  async releaseHistory(service: string, stage: string): Promise<ReleaseRecord[]> {
    const rows = await this.db
      .selectFrom("releases")
      .selectAll()
      .where("service", "=", service)
      .where("stage", "=", stage)
      .orderBy("id", "desc")
      .execute();
    return rows.map(toRelease);
  }

  async evaluations(service: string, stage?: string): Promise<EvaluationRecord[]> {
    let query = this.db.selectFrom("evaluations").selectAll().where("service", "=", service);
    if (stage !== undefined) query = query.where("stage", "=", stage);
    const rows = await query.orderBy("seq", "desc").execute();
    return rows.map((row) => ({
      ...(JSON.parse(row.record) as EvaluationRecordData),
      runId: row.run_id,
      recordedAt: row.created_at,
    }));
  }

  async attestations(digest: string, predicateType?: string): Promise<AttestationRecord[]> {
    let query = this.db.selectFrom("attestations").selectAll().where("digest", "=", digest);
    if (predicateType !== undefined) query = query.where("predicate_type", "=", predicateType);
    const rows = await query.orderBy("seq").execute();
    return rows.map((row) => ({
      service: row.service,
      digest: row.digest,
      predicateType: row.predicate_type,
      stage: row.stage,
      envelope: JSON.parse(row.envelope) as AttestationRecord["envelope"],
      recordedAt: row.created_at,
    }));
  }

  async artifactsByDigest(digest: string): Promise<ArtifactRecord[]> {
    const rows = await this.db
      .selectFrom("artifacts")
      .select(["service"])
      .where("digest", "=", digest)
      .orderBy("service")
      .execute();
    const found = await Promise.all(rows.map((row) => this.getArtifact(row.service, digest)));
    return found.filter((artifact): artifact is ArtifactRecord => artifact !== undefined);
  }

  async digestsWithPrefix(prefix: string): Promise<string[]> {
    if (!/^sha256:[0-9a-f]+$/.test(prefix)) return [];
    const rows = await this.db
      .selectFrom("artifacts")
      .select("digest")
      .distinct()
      // The prefix is checked to be lowercase hex above, so it holds no LIKE wildcard, and the
      // match is the same whatever the collation (a range would follow PostgreSQL's locale).
      .where("digest", "like", `${prefix}%`)
      .orderBy("digest")
      .limit(20)
      .execute();
    return rows.map((row) => row.digest);
  }

  async artifactByVersion(service: string, version: string): Promise<ArtifactRecord | undefined> {
    const row = await this.db
      .selectFrom("artifacts")
      .select("digest")
      .where("service", "=", service)
      .where("version", "=", version)
      .orderBy("created_at", "desc")
      .orderBy("digest")
      .executeTakeFirst();
    return row && this.getArtifact(service, row.digest);
  }

  async releasesOf(digest: string): Promise<ReleaseRecord[]> {
    const rows = await this.db
      .selectFrom("releases")
      .selectAll()
      .where("digest", "=", digest)
      .orderBy("id", "desc")
      .execute();
    return rows.map(toRelease);
  }

  async deployedComponents(ecosystem: string, name: string): Promise<DeployedComponent[]> {
    const rows = await this.db
      .selectFrom("components as c")
      .innerJoin("releases as r", "r.digest", "c.digest")
      .select(["c.purl", "c.ecosystem", "c.name", "c.version as componentVersion"])
      .selectAll("r")
      .where("c.ecosystem", "=", ecosystem)
      .where("c.name", "=", name)
      .whereRef("r.service", "=", "c.service")
      .orderBy("r.id", "desc")
      .orderBy("c.purl")
      .execute();
    return rows.map((row) => ({
      purl: row.purl,
      ecosystem: row.ecosystem,
      name: row.name,
      version: row.componentVersion,
      release: toRelease(row),
    }));
  }

  async driftCandidates(): Promise<InventoryRow[]> {
    const rows = await this.db
      .selectFrom("components")
      .select(["digest", "service", "purl", "hashes"])
      .where(
        "purl",
        "in",
        this.db
          .selectFrom("components")
          .select("purl")
          .where("hashes", "!=", "[]")
          .groupBy("purl")
          .having((eb) => eb.fn.count("hashes").distinct(), ">", 1),
      )
      .orderBy("purl")
      .orderBy("digest")
      .execute();
    return rows.map((row) => ({ ...row, hashes: JSON.parse(row.hashes) as InventoryRow["hashes"] }));
  }

  async put(advisories: Osv[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.exclusive(trx, ADVISORY_INDEX_LOCK);
      for (const advisory of advisories) {
        const existing = await trx
          .selectFrom("advisories")
          .select("modified")
          .where("id", "=", advisory.id)
          .executeTakeFirst();
        const modified = advisory.modified ?? "";
        if (existing !== undefined && existing.modified > modified) continue;
        const record = JSON.stringify(advisory);
        await trx
          .insertInto("advisories")
          .values({ id: advisory.id, modified, record })
          .onConflict((c) => c.column("id").doUpdateSet({ modified, record }))
          .execute();
        await trx.deleteFrom("advisory_packages").where("id", "=", advisory.id).execute();
        await trx.deleteFrom("advisory_aliases").where("id", "=", advisory.id).execute();
        const keys = new Set(
          (advisory.affected ?? []).flatMap((entry) =>
            entry.package === undefined
              ? []
              : [this.packageKeyOf(entry.package.ecosystem, entry.package.name)],
          ),
        );
        for (const key of keys) {
          await trx.insertInto("advisory_packages").values({ id: advisory.id, package_key: key }).execute();
        }
        for (const alias of new Set(advisory.aliases ?? [])) {
          await trx.insertInto("advisory_aliases").values({ alias, id: advisory.id }).execute();
        }
      }
    });
  }

  async coverage(): Promise<AdvisoryCoverage> {
    const ecosystem =
      this.dialect === "postgres"
        ? sql<string>`split_part(package_key, chr(1), 1)`
        : sql<string>`substr(package_key, 1, instr(package_key, char(0)) - 1)`;
    const counts = await sql<{ ecosystem: string; count: number | string }>`
      select ${ecosystem} as ecosystem, count(distinct id) as count
      from advisory_packages group by 1`.execute(this.db);
    const newest = await this.db
      .selectFrom("advisories")
      .select((eb) => eb.fn.max("modified").as("newest"))
      .executeTakeFirst();
    return {
      advisories: Object.fromEntries(counts.rows.map((row) => [row.ecosystem, Number(row.count)])),
      newestModified: newest?.newest ? String(newest.newest) : null,
    };
  }

  async byPackage(ecosystem: string, name: string): Promise<Osv[]> {
    const rows = await this.db
      .selectFrom("advisory_packages as p")
      .innerJoin("advisories as a", "a.id", "p.id")
      .select("a.record")
      .where("p.package_key", "=", this.packageKeyOf(ecosystem, name))
      .orderBy("a.id")
      .execute();
    return rows.map((row) => JSON.parse(row.record) as Osv);
  }

  async advisoryById(id: string): Promise<Osv | undefined> {
    const row = await this.db
      .selectFrom("advisories")
      .select("record")
      .where((eb) =>
        eb.or([
          eb("id", "=", id),
          eb("id", "in", eb.selectFrom("advisory_aliases").select("id").where("alias", "=", id)),
        ]),
      )
      .executeTakeFirst();
    return row && (JSON.parse(row.record) as Osv);
  }

  async advisoryImportFingerprint(source: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("advisory_imports")
      .select("fingerprint")
      .where("source", "=", source)
      .executeTakeFirst();
    return row?.fingerprint;
  }

  async recordAdvisoryImport(source: string, fingerprint: string): Promise<void> {
    await this.db
      .insertInto("advisory_imports")
      .values({ source, fingerprint })
      .onConflict((c) => c.column("source").doUpdateSet({ fingerprint }))
      .execute();
  }

  async metricsRows(query: MetricsQuery): Promise<MetricsRows> {
    return metricsRows(this.db, this.dialect, query);
  }

  async statusRows(services?: string | readonly string[]): Promise<StatusRows> {
    return statusRows(this.db, services);
  }

  async rebuildProjections(): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.exclusive(trx, APPEND_LOCK);
      for (const table of [
        "services",
        "artifacts",
        "runs",
        "releases",
        "evaluations",
        "attestations",
        "policy_changes",
      ] as const) {
        await trx.deleteFrom(table).execute();
      }
      const rows = await trx.selectFrom("events").selectAll().orderBy("seq").execute();
      for (const row of rows) await project(trx, toCloudEvent(row));
    });
  }

  async policyChanges(filter: { service?: string; stage?: string } = {}): Promise<PolicyChangeRecord[]> {
    let query = this.db.selectFrom("policy_changes").selectAll();
    if (filter.service !== undefined) query = query.where("service", "=", filter.service);
    if (filter.stage !== undefined) query = query.where("stage", "=", filter.stage);
    const rows = await query.orderBy("seq", "desc").execute();
    return rows.map((row) => ({
      service: row.service,
      stage: row.stage,
      by: row.changed_by,
      reason: row.reason as PolicyChangeReason,
      previous: row.previous === null ? null : (JSON.parse(row.previous) as ProtectedPolicy),
      policy: JSON.parse(row.policy) as ProtectedPolicy,
      changedAt: row.created_at,
    }));
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

/** Inserts the events in as few statements as it can; their seqs by event id */
async function insertEvents(
  trx: Transaction<Tables>,
  rows: Omit<Selectable<Tables["events"]>, "seq">[],
): Promise<Map<string, number>> {
  const seqs = new Map<string, number>();
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    const inserted = await trx
      .insertInto("events")
      .values(rows.slice(start, start + INSERT_CHUNK))
      .returning(["id", "seq"])
      .execute();
    for (const { id, seq } of inserted) seqs.set(id, Number(seq));
  }
  return seqs;
}

function toCloudEvent(row: Selectable<Tables["events"]>): StoredEvent {
  return {
    specversion: "1.0",
    id: row.id,
    source: row.source,
    type: row.type,
    time: row.time,
    subject: row.subject,
    datacontenttype: "application/json",
    ...(row.run_id === null ? {} : { waybillrun: row.run_id }),
    data: JSON.parse(row.data) as Record<string, unknown>,
    seq: row.seq,
  };
}

function toService(row: Selectable<Tables["services"]>): ServiceRecord {
  return { name: row.name, dir: row.dir, stages: JSON.parse(row.stages) as string[] };
}

function toRun(row: Selectable<Tables["runs"]>): RunRecord {
  return {
    id: row.id,
    shipId: row.ship_id,
    kind: row.kind as RunRecord["kind"],
    service: row.service,
    stage: row.stage,
    stageIndex: row.stage_index,
    digest: row.digest,
    version: row.version,
    state: row.state as RunRecord["state"],
    result: row.result as RunRecord["result"],
    task: row.task,
    reason: row.reason,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toRelease(row: Selectable<Tables["releases"]>): ReleaseRecord {
  return {
    service: row.service,
    stage: row.stage,
    target: row.target,
    digest: row.digest,
    version: row.version,
    runId: row.run_id,
    releasedAt: row.released_at,
    replacedAt: row.replaced_at,
  };
}
