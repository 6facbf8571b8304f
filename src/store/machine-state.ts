/**
 * The process table: the app instances and stage proxies this machine runs (pids, ports). It
 * belongs to the machine that runs them, so it lives in the machine's own SQLite file
 * (`<state>/waybill.db`) even when the store is a shared PostgreSQL database; another
 * replica's processes are not this machine's to adopt or kill. It is the runtime's
 * `RuntimeStateStore` port.
 */
import type { Kysely } from "kysely";
import type { InstanceRecord, ProxyRecord, RuntimeStateStore } from "../runtime/types.js";
import type { EnvSealer } from "./env-sealer.js";
import type { MachineTables } from "./schema.js";
import { openSqliteDatabase } from "./sqlite-store.js";

export interface MachineState extends RuntimeStateStore {
  close(): Promise<void>;
}

export class SqliteMachineState implements MachineState {
  /**
   * @param onClose what closing releases: nothing when the database is shared with the
   *   embedded store, which closes it
   */
  constructor(
    private readonly db: Kysely<MachineTables>,
    private readonly sealer: EnvSealer | undefined,
    private readonly onClose: () => Promise<void> = () => db.destroy(),
  ) {}

  async listInstances(): Promise<InstanceRecord[]> {
    const rows = await this.db.selectFrom("instances").select("record").orderBy("id").execute();
    return rows.map((row) => {
      const record = JSON.parse(row.record) as InstanceRecord;
      if (this.sealer === undefined) return record;
      return { ...record, launch: { ...record.launch, env: this.sealer.openEnv(record.launch.env) } };
    });
  }

  async putInstance(record: InstanceRecord): Promise<void> {
    const stored =
      this.sealer === undefined
        ? record
        : { ...record, launch: { ...record.launch, env: this.sealer.sealEnv(record.launch.env) } };
    const json = JSON.stringify(stored);
    await this.db
      .insertInto("instances")
      .values({ id: record.id, record: json })
      .onConflict((c) => c.column("id").doUpdateSet({ record: json }))
      .execute();
  }

  async deleteInstance(id: string): Promise<void> {
    await this.db.deleteFrom("instances").where("id", "=", id).execute();
  }

  async listProxies(): Promise<ProxyRecord[]> {
    const rows = await this.db
      .selectFrom("proxies")
      .select("record")
      .orderBy("service")
      .orderBy("stage")
      .execute();
    return rows.map((row) => JSON.parse(row.record) as ProxyRecord);
  }

  async putProxy(record: ProxyRecord): Promise<void> {
    const json = JSON.stringify(record);
    await this.db
      .insertInto("proxies")
      .values({ service: record.service, stage: record.stage, record: json })
      .onConflict((c) => c.columns(["service", "stage"]).doUpdateSet({ record: json }))
      .execute();
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

/** The process table in a SQLite file of its own (the store being elsewhere). */
export async function openMachineState(
  file: string,
  options: { sealer?: EnvSealer } = {},
): Promise<SqliteMachineState> {
  const db = await openSqliteDatabase(file);
  return new SqliteMachineState(db as unknown as Kysely<MachineTables>, options.sealer);
}
