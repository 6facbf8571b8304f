import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isGitUrl } from "../spec/schema.js";
import { commitManifests, manifestFile, revertRunCommit, type GitopsTarget } from "./gitops.js";
import { renderStage } from "./render.js";
import { digestOf, imageV1, imageV2, shopSpec } from "./testing/specs.js";

const identity = { name: "Waybill Test", email: "waybill-test@example.invalid" };
const git = (repo: string, ...args: string[]) =>
  execFileSync(
    "git",
    ["-c", `user.name=${identity.name}`, "-c", `user.email=${identity.email}`, "-C", repo, ...args],
    {
      encoding: "utf8",
    },
  ).trim();
const yamlFor = (image: string, version: string) =>
  renderStage(shopSpec(image), "dev", { version, image, namespace: "shop-dev" }).yaml;

describe("commitManifests", () => {
  let repo: string;
  let target: GitopsTarget;

  before(() => {
    repo = mkdtempSync(join(tmpdir(), "waybill-gitops-"));
    git(repo, "init", "--quiet", "-b", "main");
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "initial");
    target = { repo, path: "clusters/prod/shop", branch: "deploy" };
  });
  after(() => rmSync(repo, { recursive: true, force: true }));

  it("writes <path>/<stage>.yaml on the branch and commits it naming the digest and the run", async () => {
    const yaml = yamlFor(imageV1, "1.0.0");
    const result = await commitManifests(target, {
      stage: "dev",
      yaml,
      digest: digestOf(imageV1),
      runId: "run-1",
      identity,
    });
    assert.equal(result.file, "clusters/prod/shop/dev.yaml");
    assert.match(result.commit ?? "", /^[0-9a-f]{40}$/);
    assert.equal(git(repo, "rev-parse", "deploy"), result.commit);
    assert.equal(git(repo, "symbolic-ref", "--short", "HEAD"), "deploy");
    assert.equal(readFileSync(join(repo, result.file), "utf8"), yaml);
    const message = git(repo, "log", "-1", "--format=%B");
    assert.match(message, new RegExp(digestOf(imageV1)));
    assert.match(message, /Waybill-Run: run-1/);
    assert.equal(git(repo, "log", "-1", "--format=%an <%ae>"), "Waybill Test <waybill-test@example.invalid>");
    assert.deepEqual(git(repo, "show", "--name-only", "--format=", "HEAD").split("\n"), [result.file]);
  });

  it("commits nothing when the manifests did not change", async () => {
    const before = git(repo, "rev-parse", "HEAD");
    const result = await commitManifests(target, {
      stage: "dev",
      yaml: yamlFor(imageV1, "1.0.0"),
      digest: digestOf(imageV1),
      runId: "run-1-again",
      identity,
    });
    assert.equal(result.commit, undefined);
    assert.equal(git(repo, "rev-parse", "HEAD"), before);
  });

  it("makes one commit for the next release, on top of the last", async () => {
    const before = git(repo, "rev-parse", "HEAD");
    const result = await commitManifests(target, {
      stage: "dev",
      yaml: yamlFor(imageV2, "2.0.0"),
      digest: digestOf(imageV2),
      runId: "run-2",
      identity,
    });
    assert.equal(git(repo, "rev-parse", "HEAD~1"), before);
    assert.equal(git(repo, "rev-parse", "HEAD"), result.commit);
    assert.equal(git(repo, "rev-list", "--count", "main"), "1", "main is untouched");
  });

  it("works in a freshly initialised repository and keeps a path inside it", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "waybill-gitops-fresh-"));
    try {
      git(fresh, "init", "--quiet", "-b", "main");
      const result = await commitManifests(
        { repo: fresh, path: ".", branch: "main" },
        { stage: "dev", yaml: "kind: List\n", digest: digestOf(imageV1), runId: "run-3", identity },
      );
      assert.equal(result.file, "dev.yaml");
      assert.equal(git(fresh, "rev-list", "--count", "main"), "1");
      assert.throws(
        () => manifestFile({ repo: fresh, path: "../elsewhere", branch: "main" }, "dev"),
        /leads out/,
      );
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});

describe("a GitOps repository given by URL", () => {
  let root: string;
  let remote: string;
  let checkouts: string;
  let target: GitopsTarget;
  const clone = (name: string) => {
    const dir = join(root, name);
    execFileSync("git", ["clone", "--quiet", remote, dir]);
    return dir;
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), "waybill-gitops-remote-"));
    remote = join(root, "fleet.git");
    execFileSync("git", ["init", "--quiet", "--bare", "-b", "main", remote]);
    const seed = join(root, "seed");
    execFileSync("git", ["init", "--quiet", "-b", "main", seed]);
    git(seed, "commit", "--quiet", "--allow-empty", "-m", "initial");
    git(seed, "push", "--quiet", remote, "main");
    checkouts = join(root, "checkouts");
    target = { repo: `file://${remote}`, path: "apps/shop", branch: "main" };
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("clones it, commits the manifests and pushes them", async () => {
    const result = await commitManifests(
      target,
      { stage: "prod", yaml: yamlFor(imageV1, "1.0.0"), digest: digestOf(imageV1), runId: "run-1", identity },
      checkouts,
    );
    const reader = clone("reader-1");
    assert.equal(git(reader, "rev-parse", "HEAD"), result.commit);
    assert.equal(readFileSync(join(reader, "apps/shop/prod.yaml"), "utf8"), yamlFor(imageV1, "1.0.0"));
  });

  it("puts its commit on top of one pushed by someone else meanwhile", async () => {
    const colleague = clone("colleague");
    writeFileSync(join(colleague, "README.md"), "fleet\n");
    git(colleague, "add", "README.md");
    git(colleague, "commit", "--quiet", "-m", "readme");
    git(colleague, "push", "--quiet", "origin", "main");
    const result = await commitManifests(
      target,
      { stage: "prod", yaml: yamlFor(imageV2, "2.0.0"), digest: digestOf(imageV2), runId: "run-2", identity },
      checkouts,
    );
    const reader = clone("reader-2");
    assert.equal(git(reader, "rev-parse", "HEAD"), result.commit);
    assert.equal(git(reader, "log", "-1", "--format=%s", "HEAD~1"), "readme");
    assert.equal(git(reader, "rev-list", "--count", "HEAD"), "4", "initial, run-1, readme, run-2");
  });

  it("reverts a run's commit only while it is the stage file's latest", async () => {
    assert.equal(await revertRunCommit(target, { stage: "prod" }, "run-1", identity, checkouts), undefined);
    const revert = await revertRunCommit(target, { stage: "prod" }, "run-2", identity, checkouts);
    const reader = clone("reader-3");
    assert.equal(git(reader, "rev-parse", "HEAD"), revert);
    assert.equal(readFileSync(join(reader, "apps/shop/prod.yaml"), "utf8"), yamlFor(imageV1, "1.0.0"));
    assert.equal(await revertRunCommit(target, { stage: "prod" }, "run-2", identity, checkouts), undefined);
  });

  it("gives each cluster of a stage its own file", () => {
    assert.equal(manifestFile(target, "prod", "eu.shop"), "apps/shop/prod/eu.shop.yaml");
  });
});

describe("telling a repository URL from a local path", () => {
  const vectors: [string, boolean][] = [
    ["https://github.com/acme/fleet.git", true],
    ["ssh://git@github.com/acme/fleet.git", true],
    ["file:///srv/git/fleet.git", true],
    ["git@github.com:acme/fleet.git", true],
    ["../fleet", false],
    ["/srv/git/fleet", false],
    ["fleet", false],
    ["./dir:with-colon", false],
  ];
  for (const [repo, remote] of vectors) {
    it(`${repo} is ${remote ? "a URL" : "a local path"}`, () => assert.equal(isGitUrl(repo), remote));
  }
});
