/**
 * The store on kysely, one implementation for both dialects: SQLite (the embedded default,
 * sqlite-store.ts) and PostgreSQL (postgres-store.ts, shared by the replicas of a team control
 * plane). Where the dialects differ the store says so here, next to the query.
 *
 * Appends are serialised on PostgreSQL with a transaction-scoped advisory lock, so an event's
 * `seq` is taken and committed in the same order by every process: a reader that tails the
 * log by `afterSeq` never skips an event that commits after a higher one. The lock is the
 * transaction's last step: the projections that need no lock are written before it (with
 * placeholders for the seqs, `projector.ts`), then the lock, the events' insert, the seqs put
 * in place, the projections that need the lock, and the commit; all of it goes to the server as
 * one message (`appendShared`), so the lock is never held across a round trip to this process.
 */
import { IntegrationStore, type IntegrationTables } from "./integration-store.js";
import { TokenStore } from "./token-store.js";
import { randomUUID } from "node:crypto";
import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type Selectable,
  type Transaction,
} from "kysely";
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
import {
  lockedWrites,
  project,
  projectBeforeLock,
  seqSlotOf,
  type LockedWrites,
  type SeqSlot,
} from "./projector.js";
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
/** Taken shared by every append and exclusively by rebuildProjections, which rewrites what appends write before the append lock */
const REBUILD_LOCK = 0x77617962_03;
/** An append that lost a deadlock (or a serialisation failure) is tried again, from the start, this many times in all */
const APPEND_ATTEMPTS = 5;
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
    if (this.dialect === "postgres") return this.appendShared(rows, options.fence);
    return this.db.transaction().execute(async (trx) => {
      if (options.fence !== undefined)
        await assertHolds(trx as unknown as Transaction<LeaseTables>, this.dialect, options.fence);
      return this.projected(trx, rows, await insertEvents(trx, rows));
    });
  }

  /**
   * An append on PostgreSQL, where other processes append at the same time. The projections
   * written before the append lock (run rows, evaluations, attestations, policy changes) are
   * inserts, upserts on the row's key and updates of one row by key, which READ COMMITTED
   * orders by row lock: two appends that touch one row commit in the order they locked it, and
   * as each takes the append lock after all its row locks, in seq order too. What reads other
   * rows (a release replaces the live one) or is written by every ship of a service (its service
   * and artifact rows, its inventory) is written only under the append lock, by statements that
   * start after the lock is held and so see every earlier append (`lockedScript`). The holder
   * of the append lock never waits for a row lock, so it cannot deadlock; a deadlock among the
   * row locks before it (appends touching the same rows in opposite orders) rolls one back,
   * which is tried again. Every statement is written out with its values (`beforeLockStatements`,
   * `lockedScript`), so the whole append is one message; the seqs are read back after the commit.
   * What runs under the lock finds each row it changes by index, so its time does not grow with
   * the tables.
   */
  private async appendShared(
    rows: Omit<Selectable<Tables["events"]>, "seq">[],
    fence: LeaseFence | undefined,
  ): Promise<StoredEvent[]> {
    const placeholders = distinctPlaceholders(rows.length);
    const pending = rows.map((row, i) => toCloudEvent({ ...row, seq: placeholders[i] ?? 0 }));
    const slots = pending.flatMap((event, i) => {
      const slot = seqSlotOf(event);
      return slot === undefined ? [] : [{ slot, eventId: event.id, placeholder: placeholders[i] ?? 0 }];
    });
    const locked = lockedScript(rows, slots, lockedWrites(pending));
    const beforeLock = await beforeLockStatements(pending);
    const opening = `begin; select pg_advisory_xact_lock_shared(${REBUILD_LOCK})`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.connection().execute(async (connection) => {
          try {
            // Every statement of the append goes in one message (a fenced one first checks its
            // lease, in a message of its own): the server runs them one after the other, so the
            // projections before the lock take their row locks before it as they did one by one,
            // the lock is never held while the server waits for this process, and a ship costs
            // one round trip, not one per projection (each wakes the server and this process).
            if (fence === undefined) {
              await sql.raw([opening, ...beforeLock, locked].join(";\n")).execute(connection);
              return;
            }
            await sql.raw(opening).execute(connection);
            await assertHolds(connection as unknown as Kysely<LeaseTables>, this.dialect, fence);
            await sql.raw([...beforeLock, locked].join(";\n")).execute(connection);
          } catch (error) {
            await sql`rollback`.execute(connection).catch(() => undefined);
            throw error;
          }
        });
        break;
      } catch (error) {
        if (attempt >= APPEND_ATTEMPTS || !lostToAnotherTransaction(error)) throw error;
      }
    }
    const seqs = new Map<string, number>();
    const ids = rows.map((row) => row.id);
    for (let start = 0; start < ids.length; start += INSERT_CHUNK) {
      const found = await this.db
        .selectFrom("events")
        .select(["id", "seq"])
        .where("id", "in", ids.slice(start, start + INSERT_CHUNK))
        .execute();
      for (const { id, seq } of found) seqs.set(id, Number(seq));
    }
    return rows.map((row) => this.opened(toCloudEvent({ ...row, seq: seqs.get(row.id) ?? Number.NaN })));
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

  async head(): Promise<number> {
    const row = await this.db
      .selectFrom("events")
      .select((eb) => eb.fn.max("seq").as("seq"))
      .executeTakeFirst();
    // PostgreSQL's bigint comes back as a string.
    return Number(row?.seq ?? 0);
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
    if (filter.stage !== undefined) query = query.where("stage", "=", filter.stage);
    if (filter.shipId !== undefined) query = query.where("ship_id", "=", filter.shipId);
    if (filter.states !== undefined) query = query.where("state", "in", filter.states);
    if (filter.limit !== undefined && filter.oldest === true) {
      return (await query.orderBy("queue_seq").limit(filter.limit).execute()).map(toRun);
    }
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
      await this.exclusive(trx, REBUILD_LOCK);
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

type SeqFill = { slot: SeqSlot; eventId: string; placeholder: number };

/**
 * PostgreSQL: the statements `projectBeforeLock` makes for these events, with their values
 * written in, so they can go to the server in the append's one message. They are the same
 * statements `project` runs one by one (compiled by kysely's PostgreSQL compiler), so what an
 * append writes stays what a rebuild writes. None of them reads a result.
 */
async function beforeLockStatements(events: StoredEvent[]): Promise<string[]> {
  const compiled: CompiledQuery[] = [];
  const recorder = new Kysely<Tables>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new RecordingDriver(compiled),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  for (const event of events) await projectBeforeLock(recorder, event);
  return compiled.map(inlined);
}

/** A kysely driver that runs nothing: it keeps each query it is given, and answers no rows */
class RecordingDriver implements Driver {
  constructor(private readonly queries: CompiledQuery[]) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    const queries = this.queries;
    return {
      executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        queries.push(query);
        return Promise.resolve({ rows: [] });
      },
      // eslint-disable-next-line require-yield -- nothing to stream: the driver runs nothing
      async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
        throw new Error("a recorded statement cannot be streamed");
      },
    };
  }
  async beginTransaction(): Promise<void> {}
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/**
 * A compiled query with its parameters written in as literals, for the simple protocol: text
 * dollar-quoted (untyped, so the column's type applies, as for a parameter), numbers as numbers.
 * kysely's compiled SQL holds no literal of its own, only identifiers and `$n`.
 */
function inlined(query: CompiledQuery): string {
  return query.sql.replace(/\$(\d+)/g, (_, n: string) => {
    const value = query.parameters[Number(n) - 1];
    if (value === null || value === undefined) return "null";
    if (typeof value === "string") return dollarQuoted(value);
    if (typeof value === "number" && Number.isFinite(value)) return value < 0 ? `(${value})` : String(value);
    if (typeof value === "boolean") return String(value);
    throw new Error(`a projection's parameter cannot be written as a literal: ${typeof value}`);
  });
}

/**
 * PostgreSQL: the statements an append runs under the append lock, then its commit, the end of
 * the append's one simple-protocol message (so without bind parameters: every value travels in
 * a literal, dollar-quoted with a tag the text does not contain). Each statement sees what committed before
 * it, as READ COMMITTED takes a snapshot per statement. In order: the lock; the events, in the
 * order given (their seqs in that order); the seqs put where the projections before the lock
 * left placeholders; the services, artifacts and inventory (`lockedWrites`); each release,
 * replacing the live one of its stage and target.
 */
function lockedScript(
  rows: Omit<Selectable<Tables["events"]>, "seq">[],
  fills: SeqFill[],
  locked: LockedWrites,
): string {
  // A VALUES list inserts its rows in its order, so the seqs follow the events' order; its
  // literals are read with the whole message, before the lock, where a JSON literal would be
  // parsed by the statement, under it.
  const values = rows.map((row) =>
    [row.id, row.source, row.type, row.time, row.subject, row.run_id, row.data]
      .map((value) => (value === null ? "null" : dollarQuoted(value)))
      .join(", "),
  );
  const statements = [
    `select pg_advisory_xact_lock(${APPEND_LOCK})`,
    `insert into events (id, source, "type", "time", subject, run_id, data) values (${values.join("), (")})`,
  ];
  for (const table of new Set(fills.map((fill) => fill.slot.table))) {
    const mine = fills.filter((fill) => fill.slot.table === table);
    const { column, key } = mine[0]?.slot ?? { column: "seq" };
    // A VALUES list, not a JSON record set: the planner knows how few rows it has and finds
    // each by index, where for a record set (estimated at 100 rows) it scanned the whole table,
    // under the lock, for every append (bench/README.md, intake).
    const values = mine.map(
      (fill) =>
        `(${fill.placeholder}, ${textLiteral(fill.eventId)}${key === undefined ? "" : `, ${textLiteral(fill.slot.key?.value ?? "")}`})`,
    );
    statements.push(`update ${table} set ${column} = e.seq
      from (values ${values.join(", ")}) as m(placeholder, event_id${key === undefined ? "" : ", key"})
      join events e on e.id = m.event_id
      where ${table}.${column} = m.placeholder${key === undefined ? "" : ` and ${table}.${key.column} = m.key`}`);
  }
  if (locked.services.length > 0) {
    statements.push(`insert into services (name, dir, stages)
      select name, dir, stages from jsonb_to_recordset(${literal(locked.services)})
        as s(name text, dir text, stages text)
      on conflict (name) do update set dir = excluded.dir, stages = excluded.stages`);
  }
  if (locked.artifacts.length > 0) {
    statements.push(`insert into artifacts (service, digest, version, path, mount_path, spec, created_at)
      select service, digest, version, path, mount_path, spec, created_at
      from jsonb_to_recordset(${literal(locked.artifacts)})
        as a(service text, digest text, version text, path text, mount_path text, spec text, created_at text)
      on conflict (service, digest) do update set version = excluded.version, spec = excluded.spec`);
  }
  if (locked.inventoryDigests.length > 0) {
    statements.push(
      `delete from components where digest in (${locked.inventoryDigests.map(textLiteral).join(", ")})`,
      `insert into components (digest, service, ecosystem, name, version, purl, hashes)
      select digest, service, ecosystem, name, version, purl, hashes
      from jsonb_to_recordset(${literal(locked.components)})
        as c(digest text, service text, ecosystem text, name text, version text, purl text, hashes text)`,
    );
  }
  for (const release of locked.releases) {
    const row = `jsonb_to_record(${literal(release)}) as r(service text, stage text, target text, digest text,
      version text, run_id text, released_at text)`;
    statements.push(
      `update releases set replaced_at = r.released_at from ${row}
      where releases.service = r.service and releases.stage = r.stage and releases.target = r.target
        and releases.replaced_at is null`,
      `insert into releases (service, stage, target, digest, version, run_id, released_at, replaced_at)
      select service, stage, target, digest, version, run_id, released_at, null from ${row}`,
    );
  }
  statements.push("commit");
  return statements.join(";\n");
}

/** A value as a jsonb literal, dollar-quoted with a tag its JSON text does not contain */
function literal(value: unknown): string {
  return `${dollarQuoted(JSON.stringify(value))}::jsonb`;
}

/** A string as a text literal, dollar-quoted, so nothing in it is read as SQL whatever the server's settings */
function textLiteral(value: string): string {
  return `${dollarQuoted(value)}::text`;
}

function dollarQuoted(text: string): string {
  let tag = "";
  while (tag === "" || text.includes(tag)) tag = `$j${randomUUID().slice(0, 8)}$`;
  return `${tag}${text}${tag}`;
}

/**
 * Placeholders for the seqs of one append, distinct within it and negative, so no committed
 * row has one. They live only inside their transaction, so another append's may be equal:
 * only the policy changes' key (the seq) would then make one wait for the other's commit.
 */
function distinctPlaceholders(count: number): number[] {
  const taken = new Set<number>();
  while (taken.size < count) taken.add(-1 - Math.floor(Math.random() * 0x7fff_ffff));
  return [...taken];
}

/** PostgreSQL rolled the transaction back for another's sake (deadlock, serialisation): it may be tried again */
function lostToAnotherTransaction(error: unknown): boolean {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
  return code === "40P01" || code === "40001";
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
