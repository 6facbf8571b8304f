/**
 * A RuntimeStateStore kept in memory, for tests and for embedding without a database. Records
 * are copied in and out so callers cannot change stored state by mutating what they hold,
 * just as with a real database.
 */
import type { InstanceRecord, ProxyRecord, RuntimeStateStore } from "./types.js";

export class InMemoryRuntimeStateStore implements RuntimeStateStore {
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly proxies = new Map<string, ProxyRecord>();

  async listInstances(): Promise<InstanceRecord[]> {
    return [...this.instances.values()].map((record) => structuredClone(record));
  }

  async putInstance(record: InstanceRecord): Promise<void> {
    this.instances.set(record.id, structuredClone(record));
  }

  async deleteInstance(id: string): Promise<void> {
    this.instances.delete(id);
  }

  async listProxies(): Promise<ProxyRecord[]> {
    return [...this.proxies.values()].map((record) => structuredClone(record));
  }

  async putProxy(record: ProxyRecord): Promise<void> {
    this.proxies.set(`${record.service}\u0000${record.stage}`, structuredClone(record));
  }
}
