import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { sourceFacts } from "./build-facts.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "waybill-build-facts-"));
  dirs.push(dir);
  return dir;
}

function git(dir: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync("git", ["-C", dir, ...args], {
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: "1",
      HOME: dir,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
      ...env,
    },
    encoding: "utf8",
  }).trim();
}

function committedRepo(): string {
  const dir = tempDir();
  git(dir, ["init", "-q"]);
  writeFileSync(join(dir, "app.js"), "console.log(1)\n");
  git(dir, ["add", "app.js"]);
  git(dir, ["commit", "-q", "-m", "first"]);
  return dir;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("sourceFacts", () => {
  it("records when the commit was made, in UTC, from the committer's own offset", async () => {
    const dir = tempDir();
    git(dir, ["init", "-q"]);
    writeFileSync(join(dir, "app.js"), "console.log(1)\n");
    git(dir, ["add", "app.js"]);
    git(dir, ["commit", "-q", "-m", "first"], { GIT_COMMITTER_DATE: "2026-03-01T09:30:00+02:00" });
    const facts = await sourceFacts(dir);
    assert.ok(facts);
    assert.equal(facts.commit, git(dir, ["rev-parse", "HEAD"]));
    assert.equal(facts.committedAt, "2026-03-01T07:30:00.000Z");
    assert.equal(facts.dirty, false);
  });

  it("knows nothing outside a git repository", async () => {
    assert.equal(await sourceFacts(tempDir()), undefined);
  });

  it("knows nothing in a repository without commits", async () => {
    const dir = tempDir();
    git(dir, ["init", "-q"]);
    assert.equal(await sourceFacts(dir), undefined);
  });

  it("names the branch, and no branch on a detached HEAD", async () => {
    const dir = committedRepo();
    git(dir, ["checkout", "-q", "-b", "release/1"]);
    assert.equal((await sourceFacts(dir))?.ref, "refs/heads/release/1");
    git(dir, ["checkout", "-q", "--detach"]);
    const detached = await sourceFacts(dir);
    assert.ok(detached);
    assert.equal("ref" in detached, false);
  });

  it("takes the repository from origin, else from the top folder, for a service in a subfolder", async () => {
    const dir = committedRepo();
    const service = join(dir, "services", "api");
    mkdirSync(service, { recursive: true });
    assert.equal(
      (await sourceFacts(service))?.repository,
      `file://${git(dir, ["rev-parse", "--show-toplevel"])}`,
    );
    git(dir, ["remote", "add", "origin", "https://example.com/team/app.git"]);
    assert.equal((await sourceFacts(service))?.repository, "https://example.com/team/app.git");
  });

  it("is dirty for a change inside the service folder, not for one beside it", async () => {
    const dir = committedRepo();
    const service = join(dir, "api");
    mkdirSync(service);
    writeFileSync(join(dir, "notes.txt"), "beside\n");
    assert.equal((await sourceFacts(service))?.dirty, false);
    writeFileSync(join(service, "server.js"), "inside\n");
    assert.equal((await sourceFacts(service))?.dirty, true);
  });

  it("asks whether the tree is dirty only once the build has settled, whichever way", async () => {
    const outcomes = [
      { build: "succeeds", settle: (done: Deferred) => done.resolve() },
      { build: "fails", settle: (done: Deferred) => done.reject(new Error("build failed")) },
    ];
    for (const { build, settle } of outcomes) {
      const dir = committedRepo();
      const done = deferred();
      const facts = sourceFacts(dir, done.promise);
      // Written by the build, after git could have answered the questions that do not wait for it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      writeFileSync(join(dir, "generated.js"), "built\n");
      settle(done);
      const found = await facts;
      assert.equal(found?.commit, git(dir, ["rev-parse", "HEAD"]), build);
      assert.equal(found?.dirty, true, build);
    }
  });

  const signing = [
    { name: "a signature from an allowed signer", sign: true, allowed: true, signed: true },
    { name: "a signature from a key nobody allowed", sign: true, allowed: false, signed: false },
    { name: "no signature", sign: false, allowed: true, signed: false },
  ];
  for (const { name, sign, allowed, signed } of signing) {
    it(`calls a commit with ${name} ${signed ? "signed" : "not signed"}`, async () => {
      const dir = tempDir();
      git(dir, ["init", "-q"]);
      const key = join(dir, ".key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "t", "-f", key]);
      git(dir, ["config", "gpg.format", "ssh"]);
      git(dir, ["config", "user.signingkey", key]);
      const signers = join(dir, ".allowed-signers");
      const publicKey = readFileSync(`${key}.pub`, "utf8").trim();
      writeFileSync(signers, allowed ? `t@example.com ${publicKey}\n` : "");
      git(dir, ["config", "gpg.ssh.allowedSignersFile", signers]);
      writeFileSync(join(dir, ".gitignore"), ".key*\n.allowed-signers\n");
      git(dir, ["add", ".gitignore"]);
      git(dir, ["commit", "-q", ...(sign ? ["-S"] : []), "-m", "first"]);
      const facts = await sourceFacts(dir);
      assert.equal(facts?.signedCommit, signed);
      assert.equal(facts?.dirty, false);
    });
  }
});
