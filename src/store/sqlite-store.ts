/**
 * The embedded store: SQLite through better-sqlite3, queried by the same KyselyStore as
 * PostgreSQL. WAL keeps readers off the writer; a process crash (kill -9) loses nothing that
 * was committed. The same file holds the machine's process table (machine-state.ts).
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Kysely, SqliteDialect } from "kysely";
import { KyselyStore, type KyselyStoreOptions } from "./kysely-store.js";
import { migrateToLatest, schemaStatus, type SchemaStatus } from "./migrator.js";
import type { Database as Tables, MachineTables } from "./schema.js";

export type SqliteStoreOptions = KyselyStoreOptions;
/** The embedded store is the kysely store on SQLite */
export type SqliteStore = KyselyStore;

export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  const db = await openSqliteDatabase(file);
  return new KyselyStore(db as unknown as Kysely<Tables>, "sqlite", options.sealer);
}

/**
 * The database file, migrated to the newest schema this binary knows (refused, untouched, when
 * it is newer). Both the store and the process table use it; one connection serves both, so
 * their writes queue in this process instead of waiting on each other's locks.
 */
export async function openSqliteDatabase(
  file: string,
  options: { migrate?: boolean } = {},
): Promise<Kysely<Tables & MachineTables>> {
  mkdirSync(dirname(file), { recursive: true });
  const database = new Database(file);
  const db = new Kysely<Tables & MachineTables>({ dialect: new SqliteDialect({ database }) });
  try {
    database.pragma("busy_timeout = 5000");
    // Checked before the first write: even switching the journal to WAL writes the file.
    await schemaStatus(db as Kysely<unknown>, file);
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    if (options.migrate ?? true) await migrateToLatest(db as Kysely<unknown>, file);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

/** `waybill migrate` on a SQLite file: applies what is pending; the names applied, and the status before */
export async function migrateSqliteFile(file: string): Promise<{ before: SchemaStatus; applied: string[] }> {
  const db = await openSqliteDatabase(file, { migrate: false });
  try {
    const before = await schemaStatus(db as Kysely<unknown>, file);
    return { before, applied: await migrateToLatest(db as Kysely<unknown>, file) };
  } finally {
    await db.destroy();
  }
}
