import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { runCommand } from "../../testing/cli.js";
import { loadServiceSpec } from "../../spec/load.js";
import { initCommand } from "./init.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-init-cli-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function runInit(dir: string) {
  return runCommand(initCommand, [dir], {});
}

describe("waybill init", () => {
  it("writes a waybill.yaml that validates and says what it found", async () => {
    const dir = mkdtempSync(join(scratch, "go-"));
    writeFileSync(join(dir, "go.mod"), "module example.com/hello\n");
    writeFileSync(join(dir, "main.go"), "package main\n");
    const { exitCode, stdout } = await runInit(dir);
    assert.equal(exitCode, 0);
    assert.match(stdout, /^wrote .*waybill\.yaml for the go service hello \(found go\.mod\)\n/);
    assert.equal(loadServiceSpec(join(dir, "waybill.yaml")).spec.run.runtime, "go");
  });

  it("says when it could not tell the project type", async () => {
    const dir = mkdtempSync(join(scratch, "unknown-"));
    const { exitCode, stdout } = await runInit(dir);
    assert.equal(exitCode, 0);
    assert.match(stdout, /Could not tell what kind of project this is/);
  });

  it("exits 2 rather than overwrite a waybill.yaml", async () => {
    const dir = mkdtempSync(join(scratch, "existing-"));
    writeFileSync(join(dir, "waybill.yaml"), "metadata: {name: mine}\n");
    await assert.rejects(
      runInit(dir),
      (error: unknown) =>
        error instanceof UserError && error.exitCode === 2 && /already exists/.test(error.message),
    );
  });
});
