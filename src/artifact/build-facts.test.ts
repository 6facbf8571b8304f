import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
});
