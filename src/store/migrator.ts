/**
 * Bringing a database to the schema this binary knows. A database that has applied a
 * migration this binary does not know was upgraded by a newer Waybill: it is refused before
 * anything is written, since this binary's queries may no longer fit its tables.
 */
import { Migrator, sql, type Kysely } from "kysely";
import { UserError } from "../errors.js";
import { dialectOf, migrations } from "./migrations.js";

/** Kysely's default bookkeeping table: existing databases already hold their history there */
const MIGRATION_TABLE = "kysely_migration";

export class DatabaseNewerThanBinaryError extends UserError {
  constructor(where: string, unknown: string[], newestKnown: string) {
    super(
      `the database ${where} was upgraded by a newer Waybill: it has applied ${unknown.at(-1) ?? ""}` +
        (unknown.length > 1 ? ` (and ${unknown.length - 1} more this binary does not know)` : "") +
        `, while the newest migration this binary knows is ${newestKnown}. Nothing was written; ` +
        "run a Waybill at least as new as the one that upgraded it",
    );
    this.name = "DatabaseNewerThanBinaryError";
  }
}

export interface SchemaStatus {
  applied: string[];
  pending: string[];
  newestKnown: string;
}

export function knownMigrations(): string[] {
  return Object.keys(migrations).sort();
}

/** What the database has applied and what it lacks; refuses a database newer than the binary. */
export async function schemaStatus(db: Kysely<unknown>, where: string): Promise<SchemaStatus> {
  const known = knownMigrations();
  const newestKnown = known.at(-1) ?? "";
  const applied = (await migrationTableExists(db)) ? await appliedMigrations(db) : [];
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new DatabaseNewerThanBinaryError(where, unknown, newestKnown);
  return { applied, pending: known.filter((name) => !applied.includes(name)), newestKnown };
}

/** Applies every pending migration, in one transaction where the dialect allows; the names applied. */
export async function migrateToLatest(db: Kysely<unknown>, where: string): Promise<string[]> {
  const { pending } = await schemaStatus(db, where);
  if (pending.length === 0) return [];
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: MIGRATION_TABLE,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
  return (results ?? [])
    .filter((result) => result.status === "Success")
    .map((result) => result.migrationName);
}

async function migrationTableExists(db: Kysely<unknown>): Promise<boolean> {
  const { rows } =
    dialectOf(db) === "postgres"
      ? await sql<{ found: string | null }>`select to_regclass(${MIGRATION_TABLE}) as found`.execute(db)
      : await sql<{
          found: string | null;
        }>`select name as found from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(
          db,
        );
  return rows.some((row) => row.found !== null);
}

async function appliedMigrations(db: Kysely<unknown>): Promise<string[]> {
  const { rows } = await sql<{
    name: string;
  }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
  return rows.map((row) => row.name);
}
