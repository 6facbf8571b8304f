/**
 * Versioned schema migrations, applied in name order by kysely's Migrator, on SQLite and on
 * PostgreSQL alike. Add a new entry at the end for every change; never edit one that has
 * shipped. Where the dialects differ (identity columns, float width), a migration branches on
 * `dialectOf(db)`; what a shipped migration does on SQLite never changes.
 */
import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type Kysely, type Migration } from "kysely";

export type Dialect = "sqlite" | "postgres";

export function dialectOf(db: Kysely<unknown>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}

/** An ever-increasing integer key: AUTOINCREMENT on SQLite, an identity column on PostgreSQL */
function serialKey(db: Kysely<unknown>): (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder {
  return dialectOf(db) === "postgres"
    ? (column) => column.generatedAlwaysAsIdentity().primaryKey()
    : (column) => column.primaryKey().autoIncrement();
}

export const migrations: Record<string, Migration> = {
  "0001_event_log_and_projections": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("events")
        .addColumn("seq", "integer", serialKey(db))
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("time", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("run_id", "text")
        .addColumn("data", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("events_by_run").on("events").columns(["run_id", "seq"]).execute();

      await db.schema
        .createTable("services")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("dir", "text", (c) => c.notNull())
        .addColumn("stages", "text", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("artifacts")
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("mount_path", "text", (c) => c.notNull())
        .addColumn("spec", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("artifacts_pk", ["service", "digest"])
        .execute();

      await db.schema
        .createTable("runs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("queue_seq", "integer", (c) => c.notNull())
        .addColumn("ship_id", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("stage_index", "integer", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("result", "text")
        .addColumn("task", "text")
        .addColumn("reason", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("started_at", "text")
        .addColumn("finished_at", "text")
        .execute();
      await db.schema
        .createIndex("runs_by_stage")
        .on("runs")
        .columns(["service", "stage", "queue_seq"])
        .execute();
      await db.schema.createIndex("runs_by_ship").on("runs").columns(["ship_id"]).execute();

      await db.schema
        .createTable("releases")
        .addColumn("id", "integer", serialKey(db))
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("run_id", "text", (c) => c.notNull())
        .addColumn("released_at", "text", (c) => c.notNull())
        .addColumn("replaced_at", "text")
        .execute();
      await db.schema
        .createIndex("releases_by_stage")
        .on("releases")
        .columns(["service", "stage", "target", "replaced_at"])
        .execute();

      // The process table belongs to the machine that runs the processes: a shared database
      // never holds it (machine-state.ts keeps it in the machine's own SQLite file).
      if (dialectOf(db) === "postgres") return;
      await db.schema
        .createTable("instances")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("record", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("proxies")
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("proxies_pk", ["service", "stage"])
        .execute();
    },
  },
  "0002_evaluations": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("evaluations")
        .addColumn("run_id", "text", (c) => c.primaryKey())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("result", "text", (c) => c.notNull())
        // PostgreSQL's real is 4 bytes; SQLite's is 8.
        .addColumn("score", dialectOf(db) === "postgres" ? "double precision" : "real", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("evaluations_by_stage")
        .on("evaluations")
        .columns(["service", "stage", "seq"])
        .execute();
    },
  },
  "0003_attestations": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("attestations")
        .addColumn("id", "integer", serialKey(db))
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("predicate_type", "text", (c) => c.notNull())
        .addColumn("stage", "text")
        .addColumn("envelope", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("attestations_by_digest")
        .on("attestations")
        .columns(["digest", "predicate_type"])
        .execute();
    },
  },
  "0004_component_inventory": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("components")
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("ecosystem", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("purl", "text", (c) => c.notNull())
        .addColumn("hashes", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("components_by_package")
        .on("components")
        .columns(["ecosystem", "name"])
        .execute();
      await db.schema.createIndex("components_by_digest").on("components").columns(["digest"]).execute();
      await db.schema.createIndex("components_by_purl").on("components").columns(["purl"]).execute();
      await db.schema.createIndex("releases_by_digest").on("releases").columns(["digest"]).execute();
    },
  },
  "0005_advisories": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("advisories")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("modified", "text", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("advisory_packages")
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("package_key", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("advisory_packages_pk", ["package_key", "id"])
        .execute();
      await db.schema
        .createTable("advisory_aliases")
        .addColumn("alias", "text", (c) => c.notNull())
        .addColumn("id", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("advisory_aliases_pk", ["alias", "id"])
        .execute();
      await db.schema
        .createTable("advisory_imports")
        .addColumn("source", "text", (c) => c.primaryKey())
        .addColumn("fingerprint", "text", (c) => c.notNull())
        .execute();
    },
  },
  "0006_stage_policies": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("policy_changes")
        .addColumn("seq", "integer", (c) => c.primaryKey())
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("changed_by", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("previous", "text")
        .addColumn("policy", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("policy_changes_by_stage")
        .on("policy_changes")
        .columns(["service", "stage", "seq"])
        .execute();
    },
  },
  "0010_event_intake_and_webhooks": {
    async up(db: Kysely<unknown>) {
      // CloudEvents received on POST /v1/events: one row per (source, id), so a resent event is
      // accepted once; `state` is "acting" while its ship or approval is under way (with a lease).
      await db.schema
        .createTable("intake_events")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("received_by", "text", (c) => c.notNull())
        .addColumn("received_at", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("outcome", "text")
        .addColumn("lease_holder", "text")
        .addColumn("lease_until", "text")
        .addPrimaryKeyConstraint("intake_events_pk", ["source", "id"])
        .execute();
      await db.schema
        .createIndex("intake_events_by_time")
        .on("intake_events")
        .columns(["received_at"])
        .execute();
      await db.schema
        .createTable("webhook_subscriptions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("events", "text", (c) => c.notNull())
        .addColumn("secret", "text", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("webhook_deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("subscription_id", "text", (c) => c.notNull())
        .addColumn("event_id", "text", (c) => c.notNull())
        .addColumn("event_type", "text", (c) => c.notNull())
        .addColumn("event_seq", "integer", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("next_attempt_at", "text", (c) => c.notNull())
        .addColumn("lease_holder", "text")
        .addColumn("lease_until", "text")
        .addColumn("last_error", "text")
        .addColumn("last_status", "integer")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("finished_at", "text")
        .addUniqueConstraint("webhook_deliveries_once", ["subscription_id", "event_id"])
        .execute();
      await db.schema
        .createIndex("webhook_deliveries_due")
        .on("webhook_deliveries")
        .columns(["state", "next_attempt_at"])
        .execute();
      // Where fan-out stands in the event log, and which replica holds the right to advance it.
      await db.schema
        .createTable("webhook_cursor")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("lease_holder", "text")
        .addColumn("lease_until", "text")
        .execute();
    },
  },
  "0011_api_tokens": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("api_tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("secret_sha256", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .addColumn("revoked_by", "text")
        .execute();
      await db.schema.createIndex("api_tokens_by_name").on("api_tokens").column("name").execute();
    },
  },
  // Which replica drives each run, until when (leases.ts), and which machine runs a local stage.
  "0012_run_leases": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("run_leases")
        .addColumn("run_id", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("machine", "text", (c) => c.notNull())
        .addColumn("expires_at", "double precision", (c) => c.notNull())
        .addColumn("fence", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("stage_machines")
        .addColumn("service", "text", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("machine", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("stage_machines_key", ["service", "stage"])
        .execute();
    },
  },
  // What the API's reads need on a team's history (bench/api.bench.mjs): the newest runs and the
  // open ones without reading and sorting every run, and what is live without scanning every
  // release ever made.
  "0013_api_indexes": {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex("runs_by_queue").on("runs").column("queue_seq").execute();
      await db.schema.createIndex("runs_by_state").on("runs").columns(["state", "queue_seq"]).execute();
      await db.schema
        .createIndex("releases_live")
        .on("releases")
        .column("id")
        .where(sql.ref("replaced_at"), "is", null)
        .execute();
    },
  },
  // A service's newest runs without sorting all of them (`GET /v1/runs?service=`).
  "0014_runs_by_service": {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex("runs_by_service").on("runs").columns(["service", "queue_seq"]).execute();
    },
  },
  // A stage's active run and the head of its queue, without reading the stage's history or the
  // rest of its queue (the engine schedules the stage a run was queued in); an attestation by
  // its seq, where an append on PostgreSQL puts the seq over its placeholder (kysely-store.ts).
  "0015_runs_by_stage_state": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex("runs_by_stage_state")
        .on("runs")
        .columns(["service", "stage", "state", "queue_seq"])
        .execute();
      await db.schema.createIndex("attestations_by_seq").on("attestations").column("seq").execute();
    },
  },
  // The dashboard's sessions, shared by every replica (session-store.ts): keyed by a SHA-256 of
  // the cookie's id, standing for a token by reference, never the token itself.
  "0016_dashboard_sessions": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("dashboard_sessions")
        .addColumn("id_sha256", "text", (c) => c.primaryKey())
        .addColumn("csrf", "text", (c) => c.notNull())
        .addColumn("token_id", "text", (c) => c.references("api_tokens.id"))
        .addColumn("token_sha256", "text")
        .addColumn("created_at", "double precision", (c) => c.notNull())
        .addColumn("last_used_at", "double precision", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("dashboard_sessions_by_use")
        .on("dashboard_sessions")
        .column("last_used_at")
        .execute();
    },
  },
};
