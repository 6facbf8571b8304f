/**
 * What a build came from, for its SLSA provenance: the git commit of the service folder,
 * when it was made, whether the working tree differed from it, whether it is signed, and the digests
 * of the lockfiles the build resolved dependencies from. git runs without a shell.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const LOCKFILES = [
  "package-lock.json",
  "pnpm-lock.yaml",
  "yarn.lock",
  "go.sum",
  "poetry.lock",
  "requirements.txt",
];

export interface SourceFacts {
  repository: string;
  ref?: string;
  commit: string;
  /** When the commit was made (ISO 8601, UTC), where git can say: the start of DORA's lead time */
  committedAt?: string;
  dirty: boolean;
  signedCommit: boolean;
}

async function git(dir: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run("git", ["-C", dir, ...args], { timeout: 10_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** Undefined outside a git repository, or in one without commits. */
export async function sourceFacts(serviceDir: string): Promise<SourceFacts | undefined> {
  const commit = await git(serviceDir, ["rev-parse", "HEAD"]);
  const top = await git(serviceDir, ["rev-parse", "--show-toplevel"]);
  if (commit === undefined || top === undefined || !/^[0-9a-f]{40}$/.test(commit)) return undefined;
  const repository = (await git(serviceDir, ["remote", "get-url", "origin"])) || `file://${top}`;
  const ref = await git(serviceDir, ["symbolic-ref", "-q", "HEAD"]);
  const status = await git(serviceDir, ["status", "--porcelain", "--", "."]);
  const signed = await git(serviceDir, ["verify-commit", commit]);
  const committedAt = isoOrUndefined(await git(serviceDir, ["show", "-s", "--format=%cI", commit]));
  return {
    repository,
    ...(ref ? { ref } : {}),
    commit,
    ...(committedAt === undefined ? {} : { committedAt }),
    dirty: status === undefined || status.length > 0,
    signedCommit: signed !== undefined,
  };
}

/** git's strict ISO 8601 keeps the committer's offset; UTC sorts and compares as text. */
function isoOrUndefined(text: string | undefined): string | undefined {
  const time = text === undefined || text === "" ? NaN : Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

export function lockfileDigests(serviceDir: string): { path: string; sha256: string }[] {
  return LOCKFILES.filter((name) => existsSync(join(serviceDir, name))).map((name) => ({
    path: name,
    sha256: createHash("sha256")
      .update(readFileSync(join(serviceDir, name)))
      .digest("hex"),
  }));
}
