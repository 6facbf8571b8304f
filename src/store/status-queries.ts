/**
 * What `GET /v1/status` reads (engine/run-views.ts), in three queries whatever the number of
 * services (all of them, or a page of them by name): the open runs, each stage's last finished
 * run, and what is live. Reading it service
 * by service cost two queries each, 2,000 for a thousand services. Both dialects run the same
 * SQL (window functions are in SQLite since 3.25).
 */
import { sql, type Kysely } from "kysely";
import type { Database as Tables } from "./schema.js";
import type { ReleaseRecord, RunRecord } from "./store.js";

/** The states of a run still in the queue or in progress */
export const OPEN_RUN_STATES = ["queued", "running", "waiting-approval", "rolling-back"] as const;
const FINISHED_RUN_STATES = ["succeeded", "failed"] as const;

export interface StatusRows {
  /** Runs queued or in progress, oldest first, in queue order */
  open: RunRecord[];
  /** The newest finished run of each service's stage, in no order */
  lastFinished: RunRecord[];
  /** What is live now in each target, in the order it was released */
  releases: ReleaseRecord[];
}

/** The run columns under the names of RunRecord, so rows need no mapping */
const RUN_COLUMNS = sql`id, ship_id as "shipId", kind, service, stage, stage_index as "stageIndex", digest,
  version, state, result, task, reason, created_at as "createdAt", started_at as "startedAt",
  finished_at as "finishedAt"`;

/** The rows of every service's stages, or of the named services' (one name, or a page of them) */
export async function statusRows(
  db: Kysely<Tables>,
  services?: string | readonly string[],
): Promise<StatusRows> {
  const names = typeof services === "string" ? [services] : services;
  if (names !== undefined && names.length === 0) return { open: [], lastFinished: [], releases: [] };
  const ofService =
    names === undefined ? sql`` : sql`and service in (${sql.join(names.map((name) => sql`${name}`))})`;
  const inList = (states: readonly string[]) => sql.join(states.map((state) => sql`${state}`));
  const [open, lastFinished, releases] = await Promise.all([
    sql<RunRecord>`select ${RUN_COLUMNS} from runs
      where state in (${inList(OPEN_RUN_STATES)}) ${ofService}
      order by queue_seq`.execute(db),
    sql<RunRecord>`select ${RUN_COLUMNS} from (
        select runs.*, row_number() over (partition by service, stage order by queue_seq desc) as newest
        from runs where state in (${inList(FINISHED_RUN_STATES)}) ${ofService}
      ) finished
      where newest = 1`.execute(db),
    sql<ReleaseRecord>`select service, stage, target, digest, version, run_id as "runId",
        released_at as "releasedAt", replaced_at as "replacedAt"
      from releases where replaced_at is null ${ofService}
      order by id`.execute(db),
  ]);
  return { open: open.rows, lastFinished: lastFinished.rows, releases: releases.rows };
}
