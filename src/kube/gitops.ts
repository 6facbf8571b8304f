/**
 * GitOps mode: the rendered manifests of a stage are written to `<repo>/<path>/<stage>.yaml`
 * on `branch` and committed, for Argo CD or Flux to sync. Git runs as a program with an
 * argument list, never through a shell, so paths and messages are passed literally.
 *
 * The repository is a local working copy that Waybill owns: it switches it to `branch` and
 * commits only the stage's file, leaving anything else in the working tree alone. Pushing is
 * left to the repository's own setup (a hook, or a controller reading the local path).
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface GitopsTarget {
  /** A local git working copy */
  repo: string;
  /** The folder inside the repository for the manifests */
  path: string;
  branch: string;
}

export interface ManifestCommit {
  stage: string;
  /** The rendered multi-document YAML */
  yaml: string;
  /** The artifact digest (the image's), named in the commit message */
  digest: string;
  runId: string;
  /** Committer and author; default the repository's own git configuration */
  identity?: { name: string; email: string };
}

export interface CommitResult {
  /** The file written, relative to the repository */
  file: string;
  /** The new commit, or undefined when the file already held these manifests */
  commit: string | undefined;
}

async function git(repo: string, args: string[], identity?: ManifestCommit["identity"]): Promise<string> {
  const config =
    identity === undefined ? [] : ["-c", `user.name=${identity.name}`, "-c", `user.email=${identity.email}`];
  try {
    const { stdout } = await run("git", [...config, "-C", repo, ...args], { encoding: "utf8" });
    return stdout.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`git ${args.join(" ")} failed in ${repo}: ${stderr || String(error)}`);
  }
}

async function succeeds(repo: string, args: string[]): Promise<boolean> {
  try {
    await run("git", ["-C", repo, ...args]);
    return true;
  } catch {
    return false;
  }
}

/** The file for a stage, refusing a `path` that leads out of the repository. */
export function manifestFile(target: GitopsTarget, stage: string): string {
  const file = relative(resolve(target.repo), resolve(target.repo, target.path, `${stage}.yaml`));
  if (file.startsWith("..") || isAbsolute(file)) {
    throw new Error(`gitops path "${target.path}" leads out of the repository ${target.repo}`);
  }
  return file;
}

async function switchTo(repo: string, branch: string): Promise<void> {
  // An unborn branch (a fresh `git init`) has no ref yet but is already HEAD.
  const current = await git(repo, ["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => "");
  if (current === branch) return;
  const exists = await succeeds(repo, ["show-ref", "--verify", "--quiet", `refs/heads/${branch}`]);
  await git(repo, exists ? ["switch", "--quiet", branch] : ["switch", "--quiet", "-c", branch]);
}

/** Writes and commits the stage's manifests; a second call with the same YAML commits nothing. */
export async function commitManifests(
  target: GitopsTarget,
  manifests: ManifestCommit,
): Promise<CommitResult> {
  if (!(await succeeds(target.repo, ["rev-parse", "--is-inside-work-tree"]))) {
    throw new Error(`gitops repo ${target.repo} is not a git working copy`);
  }
  const file = manifestFile(target, manifests.stage);
  await switchTo(target.repo, target.branch);
  const absolute = join(target.repo, file);
  await mkdir(dirname(absolute), { recursive: true });
  await writeFile(absolute, manifests.yaml);
  await git(target.repo, ["add", "--", file]);
  if (await succeeds(target.repo, ["diff", "--cached", "--quiet", "--", file])) {
    return { file, commit: undefined };
  }
  const message = [
    `waybill: ${manifests.stage} → ${manifests.digest}`,
    "",
    `Waybill-Run: ${manifests.runId}`,
    `Waybill-Artifact-Digest: ${manifests.digest}`,
  ].join("\n");
  await git(target.repo, ["commit", "--quiet", "--no-verify", "-m", message, "--", file], manifests.identity);
  return { file, commit: await git(target.repo, ["rev-parse", "HEAD"]) };
}
