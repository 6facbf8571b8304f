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

/**
 * Undefined outside a git repository, or in one without commits. The questions go to git
 * together, not one after another: each call is a process start, and they answer in the time of
 * the slowest (usually `status`), not of their sum.
 *
 * `treeBuilt`: the build that runs meanwhile. Only the working tree's state depends on it (a build
 * may write files git does not ignore), so only `status` waits for it to settle, either way; the
 * commit, the branch and the remote are asked while it runs. A build that fails leaves the facts
 * unused, so its rejection is not theirs.
 */
export async function sourceFacts(
  serviceDir: string,
  treeBuilt: Promise<unknown> = Promise.resolve(),
): Promise<SourceFacts | undefined> {
  const head = git(serviceDir, ["rev-parse", "--show-toplevel", "HEAD", "--symbolic-full-name", "HEAD"]);
  const origin = git(serviceDir, ["remote", "get-url", "origin"]);
  const status = treeBuilt.then(
    () => git(serviceDir, ["status", "--porcelain", "--", "."]),
    () => undefined,
  );
  const commitFacts = head.then(async (text) => {
    const [top, commit, ref] = text?.split("\n") ?? [];
    if (top === undefined || commit === undefined || !/^[0-9a-f]{40}$/.test(commit)) return undefined;
    return { top, commit, ref, ...(await commitObjectFacts(serviceDir, commit)) };
  });
  const [facts, remote, changes] = await Promise.all([commitFacts, origin, status]);
  if (facts === undefined) return undefined;
  const { top, commit, ref, committedAt, signedCommit } = facts;
  return {
    repository: remote || `file://${top}`,
    // A detached HEAD names no branch: rev-parse says "HEAD" where symbolic-ref would say nothing.
    ...(ref === undefined || ref === "HEAD" || ref === "" ? {} : { ref }),
    commit,
    ...(committedAt === undefined ? {} : { committedAt }),
    dirty: changes === undefined || changes.length > 0,
    signedCommit,
  };
}

/**
 * When the commit was made, from its committer line, and whether its signature verifies. Only a
 * commit object with a signature header is handed to `verify-commit` (which starts gpg or
 * ssh-keygen): one without fails it anyway.
 */
async function commitObjectFacts(
  serviceDir: string,
  commit: string,
): Promise<{ committedAt?: string; signedCommit: boolean }> {
  const object = (await git(serviceDir, ["cat-file", "commit", commit])) ?? "";
  const header = object.split("\n\n", 1)[0] ?? "";
  const committedAt = committerTime(header);
  const hasSignature = /^gpgsig(-sha256)? /m.test(header);
  const signedCommit = hasSignature && (await git(serviceDir, ["verify-commit", commit])) !== undefined;
  return { ...(committedAt === undefined ? {} : { committedAt }), signedCommit };
}

/** The committer line's Unix time; UTC sorts and compares as text. */
function committerTime(header: string): string | undefined {
  const seconds = /^committer .* (\d+) [+-]\d{4}$/m.exec(header)?.[1];
  const time = seconds === undefined ? NaN : new Date(Number(seconds) * 1000).getTime();
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
