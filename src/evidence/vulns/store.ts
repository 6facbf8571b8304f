/**
 * Where advisories are kept between loading and matching. The port is small so the lead can back
 * it with the state store later; the in-memory one serves the CLI and the tests.
 */
import type { Osv } from "./osv.js";
import { packageKey } from "./packages.js";

export interface AdvisoryStore {
  put(advisories: Osv[]): Promise<void>;
  /** Advisories with an affected entry for this package; the name is compared as the ecosystem does */
  byPackage(ecosystem: string, name: string): Promise<Osv[]>;
}

export class MemoryAdvisoryStore implements AdvisoryStore {
  private readonly byId = new Map<string, Osv>();
  private readonly idsByPackage = new Map<string, Set<string>>();

  async put(advisories: Osv[]): Promise<void> {
    for (const advisory of advisories) {
      const existing = this.byId.get(advisory.id);
      // the same record can arrive from a directory and a zip; keep the newer revision
      if (existing !== undefined && (existing.modified ?? "") > (advisory.modified ?? "")) continue;
      this.byId.set(advisory.id, advisory);
      for (const entry of advisory.affected ?? []) {
        if (entry.package === undefined) continue;
        const key = packageKey(entry.package.ecosystem, entry.package.name);
        const ids = this.idsByPackage.get(key) ?? new Set<string>();
        ids.add(advisory.id);
        this.idsByPackage.set(key, ids);
      }
    }
  }

  async byPackage(ecosystem: string, name: string): Promise<Osv[]> {
    const ids = this.idsByPackage.get(packageKey(ecosystem, name)) ?? new Set<string>();
    return [...ids].flatMap((id) => {
      const advisory = this.byId.get(id);
      return advisory === undefined ? [] : [advisory];
    });
  }

  get size(): number {
    return this.byId.size;
  }
}
