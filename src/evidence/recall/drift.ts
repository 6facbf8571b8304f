/**
 * Integrity drift (pure): the same package at the same version with different content hashes
 * in different artifacts — a republished package, a tampered mirror or a cache gone wrong.
 */
export interface InventoryEntry {
  digest: string;
  service: string;
  purl: string;
  hashes: { alg: string; content: string }[];
}

export interface Drift {
  purl: string;
  /** One entry per distinct hash of the same algorithm, with the artifacts that carry it */
  variants: { alg: string; content: string; artifacts: { service: string; digest: string }[] }[];
}

export function findDrift(entries: InventoryEntry[]): Drift[] {
  const byPurlAndAlg = new Map<string, Map<string, { service: string; digest: string }[]>>();
  for (const entry of entries) {
    for (const hash of entry.hashes) {
      const key = `${entry.purl}\u0000${hash.alg}`;
      const variants = byPurlAndAlg.get(key) ?? new Map<string, { service: string; digest: string }[]>();
      const carriers = variants.get(hash.content) ?? [];
      if (!carriers.some((c) => c.digest === entry.digest))
        carriers.push({ service: entry.service, digest: entry.digest });
      variants.set(hash.content, carriers);
      byPurlAndAlg.set(key, variants);
    }
  }
  const drift: Drift[] = [];
  for (const [key, variants] of byPurlAndAlg) {
    if (variants.size < 2) continue;
    const [purl = "", alg = ""] = key.split("\u0000");
    drift.push({
      purl,
      variants: [...variants].map(([content, artifacts]) => ({ alg, content, artifacts })),
    });
  }
  return drift.sort((a, b) => a.purl.localeCompare(b.purl));
}
