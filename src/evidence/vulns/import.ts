/**
 * Imports the advisories under a folder (OSV files, folders, osv.dev all.zip) into the store's
 * index, again only when the folder's files changed: a fingerprint of their paths, sizes and
 * modification times is kept with the import.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadAdvisories } from "./load.js";
import type { AdvisoryStore } from "./store.js";

export interface AdvisoryImportLedger {
  advisoryImportFingerprint(source: string): Promise<string | undefined>;
  recordAdvisoryImport(source: string, fingerprint: string): Promise<void>;
}

/** Returns how many advisories were imported (0 when nothing changed or the folder is absent). */
export async function importAdvisories(
  store: AdvisoryStore & AdvisoryImportLedger,
  dir: string,
): Promise<number> {
  if (!existsSync(dir)) return 0;
  const fingerprint = folderFingerprint(dir);
  if ((await store.advisoryImportFingerprint(dir)) === fingerprint) return 0;
  const { advisories } = await loadAdvisories(dir);
  await store.put(advisories);
  await store.recordAdvisoryImport(dir, fingerprint);
  return advisories.length;
}

function folderFingerprint(dir: string): string {
  const hash = createHash("sha256");
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const stat = statSync(path);
        hash.update(`${path}\u0000${stat.size}\u0000${stat.mtimeMs}\n`);
      }
    }
  };
  walk(dir);
  return hash.digest("hex");
}
