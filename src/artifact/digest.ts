/**
 * The artifact digest (docs/design.md, Concepts): sha256 over the sorted file list, one line per
 * file, `<mode> <sha256 of content> <path>\n`. Modes are normalised as git does (100644,
 * 100755, 120000 for a symlink, whose content is its target) so the digest does not depend
 * on the umask of the machine that built it. `.git` and `.waybill` folders are not part of
 * an artifact.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join, posix } from "node:path";

const EXCLUDED_NAMES = new Set([".git", ".waybill"]);

export interface ArtifactEntry {
  path: string;
  mode: "100644" | "100755" | "120000";
  sha256: string;
}

export async function listArtifactEntries(root: string): Promise<ArtifactEntry[]> {
  const entries: ArtifactEntry[] = [];
  async function walk(relative: string): Promise<void> {
    const children = await readdir(join(root, relative), { withFileTypes: true });
    for (const child of children) {
      if (EXCLUDED_NAMES.has(child.name)) continue;
      const childRelative = relative === "" ? child.name : posix.join(relative, child.name);
      const absolute = join(root, childRelative);
      if (child.isDirectory()) {
        await walk(childRelative);
      } else if (child.isSymbolicLink()) {
        const target = await readlink(absolute);
        entries.push({ path: childRelative, mode: "120000", sha256: sha256Hex(target) });
      } else if (child.isFile()) {
        const stat = await lstat(absolute);
        const mode = (stat.mode & 0o111) !== 0 ? "100755" : "100644";
        entries.push({ path: childRelative, mode, sha256: await sha256File(absolute) });
      }
    }
  }
  await walk("");
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

export function digestOfEntries(entries: ArtifactEntry[]): string {
  const hash = createHash("sha256");
  for (const entry of entries) hash.update(`${entry.mode} ${entry.sha256} ${entry.path}\n`);
  return `sha256:${hash.digest("hex")}`;
}

export async function artifactDigest(root: string): Promise<string> {
  return digestOfEntries(await listArtifactEntries(root));
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}
