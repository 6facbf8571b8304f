/**
 * Where the control plane keeps its state, picked by the location: without a database URL,
 * everything is in `<state>/waybill.db` (embedded SQLite); with a PostgreSQL URL, the store is
 * that shared database and the process table stays in `<state>/waybill.db`.
 */
import type { Kysely } from "kysely";
import { join } from "node:path";
import type { EnvSealer } from "./env-sealer.js";
import { maskedDatabaseUrl } from "./database-url.js";
import { KyselyStore } from "./kysely-store.js";
import { SqliteMachineState, openMachineState, type MachineState } from "./machine-state.js";
import type { SchemaStatus } from "./migrator.js";
import type { Database as Tables, MachineTables } from "./schema.js";
import { migratePostgres, openPostgresStore } from "./postgres-store.js";
import { migrateSqliteFile, openSqliteDatabase } from "./sqlite-store.js";

export interface StoreLocation {
  stateDir: string;
  /** A PostgreSQL URL (checked with parseDatabaseUrl); absent for the embedded database */
  databaseUrl?: string | undefined;
}

export interface OpenedStore {
  store: KyselyStore;
  machine: MachineState;
  /** Where the store is, fit to print (the password masked) */
  where: string;
  close(): Promise<void>;
}

export function machineStateFile(stateDir: string): string {
  return join(stateDir, "waybill.db");
}

export async function openStore(
  location: StoreLocation,
  options: { sealer?: EnvSealer } = {},
): Promise<OpenedStore> {
  const file = machineStateFile(location.stateDir);
  if (location.databaseUrl === undefined) {
    const db = await openSqliteDatabase(file);
    const store = new KyselyStore(db as unknown as Kysely<Tables>, "sqlite", options.sealer);
    const machine = new SqliteMachineState(
      db as unknown as Kysely<MachineTables>,
      options.sealer,
      async () => undefined,
    );
    return { store, machine, where: file, close: () => store.close() };
  }
  const store = await openPostgresStore(location.databaseUrl, options);
  let machine: MachineState;
  try {
    machine = await openMachineState(file, options);
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    store,
    machine,
    where: maskedDatabaseUrl(location.databaseUrl),
    close: async () => {
      await machine.close();
      await store.close();
    },
  };
}

export interface MigrationReport {
  where: string;
  before: SchemaStatus;
  applied: string[];
}

/** `waybill migrate`: the location's database brought to the newest schema this binary knows. */
export async function migrateDatabase(location: StoreLocation): Promise<MigrationReport> {
  if (location.databaseUrl === undefined) {
    const file = machineStateFile(location.stateDir);
    return { where: file, ...(await migrateSqliteFile(file)) };
  }
  return { where: maskedDatabaseUrl(location.databaseUrl), ...(await migratePostgres(location.databaseUrl)) };
}
