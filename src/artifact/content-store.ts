/**
 * Content-addressed copies of artifacts under the state dir, so a rollback or a redeploy runs
 * exactly the bytes that were shipped, whatever happens to the working tree afterwards.
 * A copy is made in a temporary folder, verified, then renamed into place: a crash never
 * leaves a half-copied artifact under its digest. The copy is made read-only before it is
 * renamed into place, so the app that runs it cannot change it (with a control plane running
 * as root, apps run as another user and cannot even restore the write bits).
 */
import { randomUUID } from "node:crypto";
import { chmod, cp, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { artifactDigest } from "./digest.js";

export class ContentStore {
  constructor(private readonly root: string) {}

  pathFor(digest: string): string {
    const hex = digest.replace(/^sha256:/, "");
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new UserError(`"${digest}" is not a sha256 digest`);
    return join(this.root, "sha256", hex);
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.pathFor(digest)).then(
      () => true,
      () => false,
    );
  }

  /** Copies `source` in and checks that the copy has `expectedDigest`. */
  async put(source: string, expectedDigest: string): Promise<string> {
    const destination = this.pathFor(expectedDigest);
    if (await this.has(expectedDigest)) return destination;
    const staging = join(this.root, "staging", randomUUID());
    await mkdir(join(this.root, "staging"), { recursive: true });
    try {
      await cp(source, staging, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (path) => !/(^|\/)\.(git|waybill)$/.test(path),
      });
      const actual = await artifactDigest(staging);
      if (actual !== expectedDigest) {
        throw new UserError(
          `the artifact at ${source} changed while it was being recorded: expected ${expectedDigest}, got ${actual}`,
        );
      }
      await makeReadOnly(staging);
      await mkdir(join(this.root, "sha256"), { recursive: true });
      await rename(staging, destination).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
      });
      return destination;
    } finally {
      await removeReadOnlyTree(staging);
    }
  }
}

/** Write bits off everywhere below `path`; symlinks are left as they are (their mode is not used). */
async function makeReadOnly(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    for (const entry of await readdir(path)) await makeReadOnly(join(path, entry));
  }
  await chmod(path, info.mode & 0o555);
}

/** A read-only copy left behind (another put won the rename) needs its folders writable to go. */
async function removeReadOnlyTree(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return;
  if (info.isDirectory()) {
    await chmod(path, info.mode | 0o700);
    for (const entry of await readdir(path)) await removeReadOnlyTree(join(path, entry));
  }
  await rm(path, { recursive: true, force: true });
}
