/**
 * GitOps mode: the rendered manifests of a stage are written to `<repo>/<path>/<stage>.yaml`
 * on `branch` and committed, for Argo CD or Flux to sync. Git runs as a program with an
 * argument list, never through a shell, so paths and messages are passed literally.
 *
 * `repo` is a local working copy or a remote URL. A local copy is Waybill's own: it switches
 * it to `branch` and commits only the stage's file, leaving the rest of the working tree alone;
 * pushing is the repository's own business (a hook, or a controller reading the path). A URL is
 * cloned once into a checkout under `checkouts`, brought to the remote branch before every
 * commit, and pushed; a push that lost a race with someone else's is redone on top of theirs.
 * Commits to one repository are made one at a time.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { isGitUrl } from "../spec/schema.js";

const run = promisify(execFile);
const PUSH_ATTEMPTS = 3;

export interface GitopsTarget {
  /** A local git working copy, or the URL of a remote repository */
  repo: string;
  /** The folder inside the repository for the manifests */
  path: string;
  branch: string;
}

export interface ManifestCommit {
  stage: string;
  /** For a stage with several clusters: this cluster, whose manifests get a file of their own */
  cluster?: string | undefined;
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

/**
 * The file for a stage, `<path>/<stage>.yaml`, or `<path>/<stage>/<cluster>.yaml` for one of
 * several clusters; a `path` that leads out of the repository is refused.
 */
export function manifestFile(target: GitopsTarget, stage: string, cluster?: string): string {
  const name = cluster === undefined ? `${stage}.yaml` : join(stage, `${cluster}.yaml`);
  const file = relative(resolve(target.repo), resolve(target.repo, target.path, name));
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

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` after every earlier call for the same key has finished. */
function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const result = (queues.get(key) ?? Promise.resolve()).then(work, work);
  queues.set(
    key,
    result.catch(() => undefined),
  );
  return result;
}

interface Workspace {
  dir: string;
  remote: boolean;
}

/** The working copy to commit in, on `branch` and, for a remote, at the remote's tip. */
async function workspaceFor(target: GitopsTarget, checkouts: string): Promise<Workspace> {
  if (!isGitUrl(target.repo)) {
    if (!(await succeeds(target.repo, ["rev-parse", "--is-inside-work-tree"]))) {
      throw new Error(`gitops repo ${target.repo} is not a git working copy`);
    }
    await switchTo(target.repo, target.branch);
    return { dir: target.repo, remote: false };
  }
  const dir = join(checkouts, createHash("sha256").update(target.repo).digest("hex").slice(0, 16));
  if (!existsSync(join(dir, ".git"))) {
    await mkdir(checkouts, { recursive: true });
    await git(checkouts, ["clone", "--quiet", "--no-checkout", "--", target.repo, dir]);
  }
  await syncWithRemote(dir, target.branch);
  return { dir, remote: true };
}

/** Resets the checkout's branch to the remote's; a branch the remote lacks starts from its default. */
async function syncWithRemote(dir: string, branch: string): Promise<void> {
  await git(dir, ["fetch", "--quiet", "--prune", "origin"]);
  if (await succeeds(dir, ["show-ref", "--verify", "--quiet", `refs/remotes/origin/${branch}`])) {
    await git(dir, ["checkout", "--quiet", "--force", "-B", branch, `origin/${branch}`]);
  } else if (await succeeds(dir, ["rev-parse", "--verify", "--quiet", "origin/HEAD"])) {
    await git(dir, ["checkout", "--quiet", "--force", "-B", branch, "origin/HEAD"]);
  } else {
    await switchTo(dir, branch);
  }
}

function commitMessage(manifests: ManifestCommit): string {
  return [
    `waybill: ${manifests.stage} → ${manifests.digest}`,
    "",
    `Waybill-Run: ${manifests.runId}`,
    `Waybill-Artifact-Digest: ${manifests.digest}`,
  ].join("\n");
}

async function writeAndCommit(
  dir: string,
  file: string,
  manifests: ManifestCommit,
): Promise<string | undefined> {
  const absolute = join(dir, file);
  await mkdir(dirname(absolute), { recursive: true });
  await writeFile(absolute, manifests.yaml);
  await git(dir, ["add", "--", file]);
  if (await succeeds(dir, ["diff", "--cached", "--quiet", "--", file])) return undefined;
  await git(
    dir,
    ["commit", "--quiet", "--no-verify", "-m", commitMessage(manifests), "--", file],
    manifests.identity,
  );
  return git(dir, ["rev-parse", "HEAD"]);
}

/**
 * Makes a change with `change` and, for a remote, pushes it; when the push is refused because
 * the remote moved, the change is made again on top of the remote's new tip.
 */
async function publish(
  target: GitopsTarget,
  checkouts: string,
  change: (dir: string) => Promise<string | undefined>,
): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    const workspace = await workspaceFor(target, checkouts);
    const commit = await change(workspace.dir);
    if (!workspace.remote || commit === undefined) return commit;
    try {
      await git(workspace.dir, ["push", "--quiet", "origin", `HEAD:refs/heads/${target.branch}`]);
      return commit;
    } catch (error) {
      if (attempt >= PUSH_ATTEMPTS) throw error;
    }
  }
}

/**
 * Writes and commits the stage's manifests; a second call with the same YAML commits nothing.
 * `checkouts` is where remote repositories are cloned.
 */
export function commitManifests(
  target: GitopsTarget,
  manifests: ManifestCommit,
  checkouts = join(tmpdir(), "waybill-gitops"),
): Promise<CommitResult> {
  const file = manifestFile(target, manifests.stage, manifests.cluster);
  return oneAtATime(target.repo, async () => ({
    file,
    commit: await publish(target, checkouts, (dir) => writeAndCommit(dir, file, manifests)),
  }));
}

/**
 * Takes back the commit a run made, when it is still the stage file's latest: a run that
 * committed its release and then failed must not leave git saying it is live. Returns the
 * revert commit, or undefined when the run's commit is not the latest (or there is none).
 */
export function revertRunCommit(
  target: GitopsTarget,
  file: { stage: string; cluster?: string | undefined },
  runId: string,
  identity?: ManifestCommit["identity"],
  checkouts = join(tmpdir(), "waybill-gitops"),
): Promise<string | undefined> {
  const path = manifestFile(target, file.stage, file.cluster);
  return oneAtATime(target.repo, () =>
    publish(target, checkouts, async (dir) => {
      const last = await git(dir, ["log", "-1", "--format=%H%x00%B", "--", path]).catch(() => "");
      const [commit, body = ""] = last.split("\0");
      if (commit === undefined || commit === "" || !body.includes(`Waybill-Run: ${runId}\n`))
        return undefined;
      // The file as it was before the run's commit, rather than `git revert`, so a later commit
      // to another file of the repository can never make it conflict.
      const parent = `${commit}~1`;
      if (await succeeds(dir, ["cat-file", "-e", `${parent}:${path}`])) {
        await git(dir, ["checkout", "--quiet", parent, "--", path]);
      } else {
        await git(dir, ["rm", "--quiet", "--", path]);
      }
      const message = `waybill: revert ${file.stage} run ${runId}\n\nReverts ${commit}.`;
      await git(dir, ["commit", "--quiet", "--no-verify", "-m", message, "--", path], identity);
      return git(dir, ["rev-parse", "HEAD"]);
    }),
  );
}
