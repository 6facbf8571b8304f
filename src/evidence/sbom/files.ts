import { readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * Installed dependency trees and VCS folders hold other projects' manifests and lockfiles,
 * which are not this artifact's own declarations.
 */
const SKIPPED_FOLDERS = new Set(["node_modules", ".git", ".waybill", ".yarn", ".pnpm-store", "__pycache__"]);

/** Files under `dir` whose base name passes `wanted`, sorted so readings come in a stable order. */
export async function findFiles(dir: string, wanted: (fileName: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  async function walk(folder: string): Promise<void> {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name)) await walk(path);
      } else if (entry.isFile() && wanted(entry.name)) {
        found.push(path);
      }
    }
  }
  await walk(dir);
  return found.sort();
}
