import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { runCommand } from "../../testing/cli.js";
import { keysCommand } from "./keys.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-keys-cmd-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function runKeys(args: string[], options: Record<string, unknown> = {}) {
  return runCommand(keysCommand, args, options, join(scratch, "state"));
}

describe("waybill keys generate", () => {
  it("writes an ed25519 pair under <state>/keys and prints its keyid and paths, never the private key", async () => {
    const { exitCode, stdout } = await runKeys(["generate"]);
    assert.equal(exitCode, 0);
    const keyid = /^keyid: +([0-9a-f]{64})$/m.exec(stdout)?.[1];
    const privatePath = /^private key: (\S+)/m.exec(stdout)?.[1];
    const publicPath = /^public key: +(\S+)/m.exec(stdout)?.[1];
    assert.ok(keyid && privatePath && publicPath, stdout);
    assert.ok(privatePath.startsWith(join(scratch, "state", "keys", "ed25519-")));
    assert.equal(statSync(privatePath).mode & 0o777, 0o600);
    assert.doesNotMatch(stdout, /PRIVATE KEY/);
    assert.ok(!stdout.includes(readFileSync(privatePath, "utf8").split("\n")[1] ?? "-"));
  });

  it("writes an ECDSA P-256 pair into --out", async () => {
    const out = join(scratch, "elsewhere");
    const { stdout } = await runKeys(["generate"], { type: "ecdsa-p256", out });
    assert.match(stdout, new RegExp(`private key: ${out}/ecdsa-p256-[0-9a-f]{12}\\.key`));
  });

  it("refuses an unknown key type or action", async () => {
    await assert.rejects(
      runKeys(["generate"], { type: "rsa" }),
      (error: unknown) =>
        error instanceof UserError && error.message === '--type: expected ed25519 or ecdsa-p256, got "rsa"',
    );
    await assert.rejects(runKeys(["rotate"]), /^UserError: <action>: expected generate, got "rotate"$/);
  });
});
