/**
 * Run leases: which control-plane replica drives a run, until when (migration 0012_run_leases).
 *
 * A replica claims a run before it drives it, renews the lease while it does, and releases it
 * when the run finishes or waits for a person. A lease that runs out may be taken by another
 * replica, which bumps the fence. Appends that record a run's progress carry the holder they
 * were made under (`LeaseFence`) and are refused in their own transaction when it no longer
 * holds the lease, so a replica that paused past its expiry cannot commit a task's completion
 * after another replica has taken the run over.
 *
 * Time is the database's clock on PostgreSQL (replicas on several machines need not agree on
 * the time), and this process's on SQLite (one process, one machine).
 */
import { sql, type Kysely, type Transaction } from "kysely";
import type { Dialect } from "./migrations.js";

export interface LeaseTables {
  run_leases: {
    run_id: string;
    /** The replica holding the run; "" when released */
    holder: string;
    machine: string;
    /** Milliseconds since the epoch, by the clock named above */
    expires_at: number;
    /** Raised whenever the run changes hands */
    fence: number;
  };
  /** The machine whose replica runs a stage's local instances */
  stage_machines: {
    service: string;
    stage: string;
    machine: string;
  };
}

export interface LeaseHolder {
  /** `<machine>/<pid>/<random>` */
  replica: string;
  machine: string;
}

export type LeaseClaim =
  | { kind: "claimed" | "renewed"; fence: number }
  | { kind: "taken-over"; from: string; fence: number }
  | { kind: "held"; by: string }
  | { kind: "other-machine"; machine: string };

export interface ClaimOptions {
  ttlMs: number;
  /** The run's stage has a local target: only the machine that runs its instances may claim it */
  localStage?: { service: string; stage: string };
  /**
   * This replica is the only one there can be (the embedded store, locked to one process):
   * any other holder is a predecessor that died, and its lease is taken without waiting.
   */
  soleReplica?: boolean;
}

/** The lease an append was made under; the append is refused when the holder lost it. */
export interface LeaseFence {
  runId: string;
  replica: string;
}

export class LeaseLostError extends Error {
  constructor(runId: string, replica: string, holder: string | undefined) {
    super(
      `run ${runId}: replica ${replica} no longer holds its lease` +
        (holder === undefined || holder === "" ? "" : ` (${holder} does)`),
    );
    this.name = "LeaseLostError";
  }
}

type Db = Kysely<LeaseTables> | Transaction<LeaseTables>;

async function now(db: Db, dialect: Dialect): Promise<number> {
  if (dialect === "sqlite") return Date.now();
  const { rows } = await sql<{
    now: number;
  }>`select (extract(epoch from clock_timestamp()) * 1000)::float8 as now`.execute(db);
  return Number(rows[0]?.now);
}

export async function claimRun(
  db: Kysely<LeaseTables>,
  dialect: Dialect,
  runId: string,
  holder: LeaseHolder,
  options: ClaimOptions,
): Promise<LeaseClaim> {
  // The row exists before the transaction locks it, so SKIP LOCKED has a row to skip.
  await db
    .insertInto("run_leases")
    .values({ run_id: runId, holder: "", machine: "", expires_at: 0, fence: 0 })
    .onConflict((conflict) => conflict.column("run_id").doNothing())
    .execute();
  return db.transaction().execute(async (trx) => {
    let query = trx.selectFrom("run_leases").selectAll().where("run_id", "=", runId);
    // A row another replica is claiming right now is skipped, not waited for: it is theirs.
    if (dialect === "postgres") query = query.forUpdate().skipLocked();
    const lease = await query.executeTakeFirst();
    if (lease === undefined) return { kind: "held", by: "a replica claiming it now" };
    if (options.localStage !== undefined) {
      const owner = await stageMachine(trx, options.localStage, holder.machine);
      if (owner !== holder.machine) return { kind: "other-machine", machine: owner };
    }
    const at = await now(trx, dialect);
    const expires_at = at + options.ttlMs;
    if (lease.holder === holder.replica) {
      await trx.updateTable("run_leases").set({ expires_at }).where("run_id", "=", runId).execute();
      return { kind: "renewed", fence: lease.fence };
    }
    const free = lease.holder === "" || lease.expires_at <= at || options.soleReplica === true;
    if (!free) return { kind: "held", by: lease.holder };
    const fence = lease.fence + 1;
    await trx
      .updateTable("run_leases")
      .set({ holder: holder.replica, machine: holder.machine, expires_at, fence })
      .where("run_id", "=", runId)
      .execute();
    return lease.holder === ""
      ? { kind: "claimed", fence }
      : { kind: "taken-over", from: lease.holder, fence };
  });
}

/** The machine that owns a local stage; the first to ask becomes it. */
async function stageMachine(
  trx: Transaction<LeaseTables>,
  stage: { service: string; stage: string },
  machine: string,
): Promise<string> {
  await trx
    .insertInto("stage_machines")
    .values({ service: stage.service, stage: stage.stage, machine })
    .onConflict((conflict) => conflict.columns(["service", "stage"]).doNothing())
    .execute();
  const row = await trx
    .selectFrom("stage_machines")
    .select("machine")
    .where("service", "=", stage.service)
    .where("stage", "=", stage.stage)
    .executeTakeFirstOrThrow();
  return row.machine;
}

/** Extends a lease this replica still holds; false when it holds it no longer, or it ran out. */
export async function renewRun(
  db: Kysely<LeaseTables>,
  dialect: Dialect,
  runId: string,
  replica: string,
  ttlMs: number,
): Promise<boolean> {
  const at = await now(db, dialect);
  const result = await db
    .updateTable("run_leases")
    .set({ expires_at: at + ttlMs })
    .where("run_id", "=", runId)
    .where("holder", "=", replica)
    // A lease that ran out is anyone's to take: its holder must claim it again, not renew it.
    .where("expires_at", ">", at)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Lets the run go, if this replica holds it, so any replica may claim it at once. */
export async function releaseRun(db: Kysely<LeaseTables>, runId: string, replica: string): Promise<void> {
  await db
    .updateTable("run_leases")
    .set({ holder: "", expires_at: 0 })
    .where("run_id", "=", runId)
    .where("holder", "=", replica)
    .execute();
}

/**
 * Inside an append's transaction: refuses it unless the replica still holds the run. On
 * PostgreSQL the row is locked for the rest of the transaction, so a takeover waits for the
 * append to commit, or the append sees the new holder.
 */
export async function assertHolds(
  trx: Kysely<LeaseTables>,
  dialect: Dialect,
  fence: LeaseFence,
): Promise<void> {
  let query = trx.selectFrom("run_leases").select("holder").where("run_id", "=", fence.runId);
  if (dialect === "postgres") query = query.forShare();
  const row = await query.executeTakeFirst();
  if (row?.holder !== fence.replica) throw new LeaseLostError(fence.runId, fence.replica, row?.holder);
}

/** Who holds a run's lease now, for tests and diagnostics */
export async function leaseOf(
  db: Kysely<LeaseTables>,
  runId: string,
): Promise<{ holder: string; machine: string; expiresAt: number; fence: number } | undefined> {
  const row = await db.selectFrom("run_leases").selectAll().where("run_id", "=", runId).executeTakeFirst();
  return (
    row && { holder: row.holder, machine: row.machine, expiresAt: Number(row.expires_at), fence: row.fence }
  );
}
