/**
 * Where advisories are kept between loading and matching. The port is small so the lead can back
 * it with the state store later; the in-memory one serves the CLI and the tests.
 */
import type { Osv } from "./osv.js";
import { packageKey } from "./packages.js";
import { baseEcosystem } from "./versions/index.js";

/** What a store of advisories holds: how many per ecosystem (lowercase, as `baseEcosystem`) and how new */
export interface AdvisoryCoverage {
  advisories: Record<string, number>;
  /** The newest `modified` of any advisory; null when there are none */
  newestModified: string | null;
}

export interface AdvisoryStore {
  put(advisories: Osv[]): Promise<void>;
  coverage(): Promise<AdvisoryCoverage>;
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

  async coverage(): Promise<AdvisoryCoverage> {
    const advisories: Record<string, number> = {};
    let newestModified: string | null = null;
    for (const advisory of this.byId.values()) {
      for (const ecosystem of new Set(
        (advisory.affected ?? []).flatMap((entry) =>
          entry.package ? [baseEcosystem(entry.package.ecosystem)] : [],
        ),
      )) {
        advisories[ecosystem] = (advisories[ecosystem] ?? 0) + 1;
      }
      if (
        advisory.modified !== undefined &&
        (newestModified === null || advisory.modified > newestModified)
      ) {
        newestModified = advisory.modified;
      }
    }
    return { advisories, newestModified };
  }

  get size(): number {
    return this.byId.size;
  }
}
