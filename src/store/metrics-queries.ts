/**
 * What the metrics (`src/metrics`) read from the database, aggregated in SQL where it can be, so
 * a scrape costs a few grouped scans rather than reading the history row by row, and every
 * replica of a control plane that shares the database answers the same. Times are ISO 8601 text
 * in UTC on both dialects; where a duration is computed in SQL the dialects differ, and say so.
 */
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Dialect } from "./migrations.js";
import type { Database as Tables } from "./schema.js";

/** The event a later replica appends when it takes over a task whose lease expired */
export const LEASE_TAKEOVER_EVENT_TYPE = "dev.waybill.task.lease-taken-over";
const WAITING_APPROVAL_EVENT_TYPE = "dev.waybill.run.waiting-approval";
const PROVENANCE_PREDICATE_TYPE = "https://slsa.dev/provenance/v1";
/** How long before its release a run is looked for in the one pass over the window's runs */
const RUN_LEAD_MS = 7 * 86_400_000;

export interface MetricsQuery {
  /** Releases from this time on (ISO 8601) are the deliveries read */
  since: string;
  service?: string;
  /** Also the run, gate, approval and queue aggregates, with run durations counted into these buckets (seconds) */
  aggregates?: { durationBuckets: readonly number[] };
}

/** Runs of one service, stage, kind and state */
export interface RunCountRow {
  service: string;
  stage: string;
  kind: string;
  state: string;
  runs: number;
  /** Of them, the ones that started */
  started: number;
}

/** Finished runs of a stage whose duration fell in one bucket: index into the bounds, or the bounds' length for +Inf */
export interface DurationBucketRow {
  stage: string;
  bucket: number;
  runs: number;
  seconds: number;
}

export interface GateCountRow {
  service: string;
  stage: string;
  result: string;
  evaluations: number;
}

export interface GateScoreRow {
  service: string;
  stage: string;
  score: number;
  recordedAt: string;
}

export interface WaitingApprovalRow {
  runId: string;
  service: string;
  stage: string;
  /** When the run began to wait; null only for a log without the event */
  waitingSince: string | null;
}

/** One run's release to a stage (the first of its targets), with what DORA needs about it */
export interface DeliveryRow {
  service: string;
  stage: string;
  runId: string;
  kind: string;
  digest: string;
  /** The run's state now; a run released and then failed says "failed" */
  state: string | null;
  finishedAt: string | null;
  releasedAt: string;
  /** When its ship was made: the first run of the ship queued */
  shippedAt: string | null;
  /** The commit time the artifact's SLSA provenance records */
  committedAt: string | null;
}

export interface MetricsRows {
  deliveries: DeliveryRow[];
  /** Present when the query asked for aggregates */
  aggregates?: {
    runs: RunCountRow[];
    durations: DurationBucketRow[];
    gates: GateCountRow[];
    scores: GateScoreRow[];
    waitingApprovals: WaitingApprovalRow[];
    /** Events of LEASE_TAKEOVER_EVENT_TYPE in the whole log: replicas taking over runs, and the embedded control plane resuming runs after a crash */
    leaseTakeovers: number;
  };
}

/**
 * Facts that never change once in the log, remembered per database: the commit time an
 * artifact's provenance records, and how many lease takeovers the log held up to a seq. Both
 * are read from the database (so every replica agrees); this only saves reading them again.
 */
interface Remembered {
  commitTimes: Map<string, string | null>;
  takeovers: { seq: number; count: number };
}
const remembered = new WeakMap<Kysely<Tables>, Remembered>();

export async function metricsRows(
  db: Kysely<Tables>,
  dialect: Dialect,
  query: MetricsQuery,
): Promise<MetricsRows> {
  let memory = remembered.get(db);
  if (memory === undefined) {
    memory = { commitTimes: new Map(), takeovers: { seq: 0, count: 0 } };
    remembered.set(db, memory);
  }
  const deliveries = await deliveryRows(db, query, memory);
  if (query.aggregates === undefined) return { deliveries };
  const [runs, durations, gates, scores, waitingApprovals, leaseTakeovers] = await Promise.all([
    runCounts(db, query.service),
    durationBuckets(db, dialect, query.service, query.aggregates.durationBuckets),
    gateCounts(db, query.service),
    gateScores(db, query.service),
    waitingApprovalRows(db, query.service),
    takeoverCount(db, memory),
  ]);
  return { deliveries, aggregates: { runs, durations, gates, scores, waitingApprovals, leaseTakeovers } };
}

/**
 * One row per run that released in the window (the first of its targets). The releases and
 * their runs are read apart and joined here: a join in SQL seeks each run by its text key,
 * which costs more than reading the window's runs in one pass. A run queued more than a week
 * before the window is read by its id. When the ship was made is only asked for deliveries
 * whose provenance has no commit time: with git builds, none.
 */
async function deliveryRows(
  db: Kysely<Tables>,
  query: MetricsQuery,
  memory: Remembered,
): Promise<DeliveryRow[]> {
  let releases = db
    .selectFrom("releases")
    .select(["service", "stage", "run_id", "digest", "released_at"])
    .where("released_at", ">=", query.since);
  if (query.service !== undefined) releases = releases.where("service", "=", query.service);
  const firstOfRun = new Map<string, Awaited<ReturnType<typeof releases.execute>>[number]>();
  for (const row of await releases.execute()) {
    const seen = firstOfRun.get(row.run_id);
    if (seen === undefined || row.released_at < seen.released_at) firstOfRun.set(row.run_id, row);
  }
  const queuedFrom = new Date(Date.parse(query.since) - RUN_LEAD_MS).toISOString();
  let runs = db
    .selectFrom("runs")
    .select(["id", "kind", "state", "finished_at", "ship_id"])
    .where("created_at", ">=", queuedFrom);
  if (query.service !== undefined) runs = runs.where("service", "=", query.service);
  const runOf = new Map((await runs.execute()).map((run) => [run.id, run]));
  const older = [...firstOfRun.keys()].filter((id) => !runOf.has(id));
  for (let start = 0; start < older.length; start += 500) {
    const rows = await db
      .selectFrom("runs")
      .select(["id", "kind", "state", "finished_at", "ship_id"])
      .where("id", "in", older.slice(start, start + 500))
      .execute();
    for (const run of rows) runOf.set(run.id, run);
  }
  const rows = [...firstOfRun.values()].map((release) => ({ release, run: runOf.get(release.run_id) }));
  const commitTimes = await commitTimesOf(
    db,
    rows.map(({ release }) => release.digest),
    memory,
    query.service === undefined,
  );
  const shipTimes = await shipTimesOf(
    db,
    rows.flatMap(({ release, run }) =>
      commitTimes.get(release.digest) == null && run !== undefined ? [run.ship_id] : [],
    ),
  );
  return rows.map(({ release, run }) => ({
    service: release.service,
    stage: release.stage,
    runId: release.run_id,
    kind: run?.kind ?? "ship",
    digest: release.digest,
    state: run?.state ?? null,
    finishedAt: run?.finished_at ?? null,
    releasedAt: release.released_at,
    shippedAt: run === undefined ? null : (shipTimes.get(run.ship_id) ?? null),
    committedAt: commitTimes.get(release.digest) ?? null,
  }));
}

/** When each ship was made: its first run's queueing */
async function shipTimesOf(db: Kysely<Tables>, shipIds: string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(shipIds)];
  const times = new Map<string, string>();
  for (let start = 0; start < wanted.length; start += 500) {
    const rows = await db
      .selectFrom("runs")
      .select((eb) => ["ship_id", eb.fn.min("created_at").as("shipped_at")])
      .where("ship_id", "in", wanted.slice(start, start + 500))
      .groupBy("ship_id")
      .execute();
    for (const row of rows) times.set(row.ship_id, String(row.shipped_at));
  }
  return times;
}

/**
 * The commit time of each digest's SLSA provenance (the oldest that records one). Digests
 * without provenance are asked again next time: a provenance may yet be recorded for them.
 * A read of every service's window prunes the memory to the digests it asked about, so it
 * stays as small as the window.
 */
async function commitTimesOf(
  db: Kysely<Tables>,
  digests: string[],
  memory: Remembered,
  prune: boolean,
): Promise<Map<string, string | null>> {
  const wanted = [...new Set(digests)];
  const known = new Map<string, string | null>();
  const unknown: string[] = [];
  for (const digest of wanted) {
    const time = memory.commitTimes.get(digest);
    if (time === undefined) unknown.push(digest);
    else known.set(digest, time);
  }
  for (let start = 0; start < unknown.length; start += 500) {
    const rows = await db
      .selectFrom("attestations")
      .select(["digest", "envelope"])
      .where("predicate_type", "=", PROVENANCE_PREDICATE_TYPE)
      .where("digest", "in", unknown.slice(start, start + 500))
      .orderBy("seq")
      .execute();
    for (const row of rows) {
      const time = commitTimeInEnvelope(row.envelope);
      if (!known.has(row.digest) || (known.get(row.digest) === null && time !== null))
        known.set(row.digest, time);
    }
  }
  if (prune) memory.commitTimes = known;
  else for (const [digest, time] of known) memory.commitTimes.set(digest, time);
  return known;
}

/** `annotations.committedAt` of the source the provenance names (the dependency with a sha1 digest) */
function commitTimeInEnvelope(envelope: string): string | null {
  try {
    const { payload } = JSON.parse(envelope) as { payload?: string };
    const statement = JSON.parse(Buffer.from(payload ?? "", "base64").toString("utf8")) as {
      predicate?: {
        buildDefinition?: {
          resolvedDependencies?: { digest?: Record<string, string>; annotations?: Record<string, unknown> }[];
        };
      };
    };
    const source = statement.predicate?.buildDefinition?.resolvedDependencies?.find(
      (dependency) => dependency.digest?.sha1 !== undefined,
    );
    const time = source?.annotations?.committedAt;
    return typeof time === "string" && !Number.isNaN(Date.parse(time)) ? new Date(time).toISOString() : null;
  } catch {
    return null;
  }
}

async function runCounts(db: Kysely<Tables>, service: string | undefined): Promise<RunCountRow[]> {
  let query = db
    .selectFrom("runs")
    .select((eb) => [
      "service",
      "stage",
      "kind",
      "state",
      eb.fn.countAll().as("runs"),
      eb.fn.count("started_at").as("started"),
    ])
    .groupBy(["service", "stage", "kind", "state"]);
  if (service !== undefined) query = query.where("service", "=", service);
  const rows = await query.execute();
  return rows.map((row) => ({ ...row, runs: Number(row.runs), started: Number(row.started) }));
}

/** Seconds between two ISO 8601 columns */
function secondsBetween(dialect: Dialect, from: string, to: string): RawBuilder<number> {
  return dialect === "postgres"
    ? sql<number>`extract(epoch from (${sql.ref(to)}::timestamptz - ${sql.ref(from)}::timestamptz))`
    : sql<number>`((julianday(${sql.ref(to)}) - julianday(${sql.ref(from)})) * 86400.0)`;
}

async function durationBuckets(
  db: Kysely<Tables>,
  dialect: Dialect,
  service: string | undefined,
  bounds: readonly number[],
): Promise<DurationBucketRow[]> {
  const cases = bounds.map((bound, index) => sql`when d <= ${sql.lit(bound)} then ${sql.lit(index)}`);
  const bucket = sql`case ${sql.join(cases, sql` `)} else ${sql.lit(bounds.length)} end`;
  const serviceFilter = service === undefined ? sql`` : sql`and service = ${service}`;
  const result = await sql<{
    stage: string;
    bucket: number | string;
    runs: number | string;
    seconds: number | string;
  }>`
    select stage, bucket, count(*) as runs, sum(d) as seconds from (
      select stage, d, ${bucket} as bucket from (
        select stage, ${secondsBetween(dialect, "started_at", "finished_at")} as d from runs
        where started_at is not null and finished_at is not null ${serviceFilter}
      ) timed
    ) bucketed
    group by stage, bucket`.execute(db);
  return result.rows.map((row) => ({
    stage: row.stage,
    bucket: Number(row.bucket),
    runs: Number(row.runs),
    seconds: Number(row.seconds),
  }));
}

async function gateCounts(db: Kysely<Tables>, service: string | undefined): Promise<GateCountRow[]> {
  let query = db
    .selectFrom("evaluations")
    .select((eb) => ["service", "stage", "result", eb.fn.countAll().as("evaluations")])
    .groupBy(["service", "stage", "result"]);
  if (service !== undefined) query = query.where("service", "=", service);
  const rows = await query.execute();
  return rows.map((row) => ({ ...row, evaluations: Number(row.evaluations) }));
}

async function gateScores(db: Kysely<Tables>, service: string | undefined): Promise<GateScoreRow[]> {
  let newest = db
    .selectFrom("evaluations")
    .select((eb) => ["service", "stage", eb.fn.max("seq").as("seq")])
    .groupBy(["service", "stage"]);
  if (service !== undefined) newest = newest.where("service", "=", service);
  const rows = await db
    .selectFrom("evaluations as e")
    .innerJoin(newest.as("n"), (join) =>
      join.onRef("n.service", "=", "e.service").onRef("n.stage", "=", "e.stage").onRef("n.seq", "=", "e.seq"),
    )
    .select(["e.service", "e.stage", "e.score", "e.created_at"])
    .execute();
  return rows.map((row) => ({
    service: row.service,
    stage: row.stage,
    score: Number(row.score),
    recordedAt: row.created_at,
  }));
}

async function waitingApprovalRows(
  db: Kysely<Tables>,
  service: string | undefined,
): Promise<WaitingApprovalRow[]> {
  let query = db
    .selectFrom("runs as r")
    .select((eb) => [
      "r.id",
      "r.service",
      "r.stage",
      eb
        .selectFrom("events as e")
        .select((inner) => inner.fn.max("e.time").as("time"))
        .whereRef("e.run_id", "=", "r.id")
        .where("e.type", "=", WAITING_APPROVAL_EVENT_TYPE)
        .as("waiting_since"),
    ])
    .where("r.state", "=", "waiting-approval");
  if (service !== undefined) query = query.where("r.service", "=", service);
  const rows = await query.orderBy("r.queue_seq").execute();
  return rows.map((row) => ({
    runId: row.id,
    service: row.service,
    stage: row.stage,
    waitingSince: row.waiting_since ?? null,
  }));
}

/**
 * The log has no index by type, so the count goes on from the seq last counted to: a scrape
 * reads only the events appended since the one before. Appends commit in seq order on both
 * dialects (kysely-store.ts), so no event is skipped.
 */
async function takeoverCount(db: Kysely<Tables>, memory: Remembered): Promise<number> {
  const { seq, count } = memory.takeovers;
  const row = await db
    .selectFrom("events")
    .select((eb) => [
      eb.fn.max("seq").as("newest"),
      eb.fn
        .sum<number | string | null>(
          eb.case().when("type", "=", LEASE_TAKEOVER_EVENT_TYPE).then(1).else(0).end(),
        )
        .as("takeovers"),
    ])
    .where("seq", ">", seq)
    .executeTakeFirst();
  if (row?.newest === null || row?.newest === undefined) return count;
  memory.takeovers = { seq: Number(row.newest), count: count + Number(row.takeovers ?? 0) };
  return memory.takeovers.count;
}
