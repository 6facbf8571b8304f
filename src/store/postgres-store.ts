/**
 * The store on PostgreSQL: the database a team control plane shares between its replicas.
 * Same KyselyStore and migrations as SQLite; kysely's PostgresDialect over a `pg` pool. The
 * process table is not here: it stays in each machine's own file (machine-state.ts).
 */
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { UserError, errorMessage } from "../errors.js";
import { maskedDatabaseUrl, withoutPassword } from "./database-url.js";
import { KyselyStore, type KyselyStoreOptions } from "./kysely-store.js";
import { migrateToLatest, schemaStatus, type SchemaStatus } from "./migrator.js";
import type { Database as Tables } from "./schema.js";

export interface PostgresStoreOptions extends KyselyStoreOptions {
  /** Connections in the pool (default 10) */
  maxConnections?: number;
}

export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<KyselyStore> {
  const db = postgresDatabase(url, options.maxConnections ?? 10);
  try {
    await reachable(db, url);
    await migrateToLatest(db as Kysely<unknown>, maskedDatabaseUrl(url));
  } catch (error) {
    await db.destroy();
    throw cleaned(error, url);
  }
  return new KyselyStore(db, "postgres", options.sealer);
}

/** `waybill migrate` on a PostgreSQL database: applies what is pending; the names applied, and the status before */
export async function migratePostgres(url: string): Promise<{ before: SchemaStatus; applied: string[] }> {
  const db = postgresDatabase(url, 1);
  const where = maskedDatabaseUrl(url);
  try {
    await reachable(db, url);
    const before = await schemaStatus(db as Kysely<unknown>, where);
    return { before, applied: await migrateToLatest(db as Kysely<unknown>, where) };
  } catch (error) {
    throw cleaned(error, url);
  } finally {
    await db.destroy();
  }
}

function postgresDatabase(url: string, max: number): Kysely<Tables> {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle connection that breaks (a server restart) must not take the process down: the
  // pool drops it, and the next query opens a new one or fails where someone is waiting.
  pool.on("error", (error) => {
    process.stderr.write(
      `waybill: a connection to ${maskedDatabaseUrl(url)} broke: ${withoutPassword(error.message, url)}\n`,
    );
  });
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}

/** Connecting is where a wrong URL shows; say so plainly, without the password. */
async function reachable(db: Kysely<Tables>, url: string): Promise<void> {
  try {
    await db.connection().execute(async () => undefined);
  } catch (error) {
    throw new UserError(
      `could not connect to the database ${maskedDatabaseUrl(url)}: ${withoutPassword(reason(error), url)}`,
    );
  }
}

/** Node reports a refused connection to every address of a host as an AggregateError with no message. */
function reason(error: unknown): string {
  if (error instanceof AggregateError && error.message === "") {
    return error.errors.map(errorMessage).join("; ") || "connection refused";
  }
  return errorMessage(error);
}

function cleaned(error: unknown, url: string): unknown {
  if (!(error instanceof Error)) return error;
  const message = withoutPassword(error.message, url);
  if (message === error.message) return error;
  return error instanceof UserError
    ? new UserError(message, error.exitCode, error.httpStatus)
    : new Error(message);
}
