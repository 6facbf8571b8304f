/**
 * A developer reaches a shared control plane with a token of their own, through the real CLI:
 * an admin makes it (`waybill tokens create`), the developer uses it through `WAYBILL_URL` and
 * `WAYBILL_TOKEN` or `waybill login`, it acts with its role only, and a revoked one is refused.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, runCli, scratchExample } from "../testing/cli.js";

const scratch = scratchExample("hello");
const admin = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });
const elsewhere = mkdtempSync(join(tmpdir(), "waybill-developer-"));
const configDir = join(elsewhere, "config");
/** A developer's shell: no local state named, in a folder with none */
const developer = (args: string[], env: Record<string, string>) =>
  runCli(args, {
    stateDir: "",
    cwd: elsewhere,
    env: { WAYBILL_STATE: "", WAYBILL_CONFIG_DIR: configDir, ...env },
  });

after(async () => {
  await admin(["down"]);
  cleanUp(scratch.root);
  cleanUp(elsewhere);
});

test(
  "a token made by an admin reaches the shared control plane with its role, until it is revoked",
  { timeout: 120_000 },
  async () => {
    const started = await admin(["status"]);
    assert.equal(started.code, 0, started.stderr);
    const url = (
      JSON.parse(readFileSync(join(scratch.stateDir, "control-plane.json"), "utf8")) as { url: string }
    ).url;

    const made = await admin(["tokens", "create", "dana", "--role", "viewer"]);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    assert.match(token, /^wb_/);
    assert.match(made.stderr, /shown only now/);

    const viaEnv = await developer(["status"], { WAYBILL_URL: url, WAYBILL_TOKEN: token });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const tooSmall = await developer(["tokens"], { WAYBILL_URL: url, WAYBILL_TOKEN: token });
    assert.equal(tooSmall.code, 2);
    assert.match(tooSmall.stderr, /needs the admin role; your token has viewer/);
    const noToken = await developer(["status"], { WAYBILL_URL: url });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /WAYBILL_TOKEN is not/);

    const login = await developer(["login", url], { WAYBILL_TOKEN: token });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /logged in to .* as dana \(viewer\)/);
    assert.equal(statSync(join(configDir, "login.json")).mode & 0o777, 0o600);
    const viaLogin = await developer(["status", "--json"], {});
    assert.equal(viaLogin.code, 0, viaLogin.stderr);
    assert.equal(existsSync(join(elsewhere, ".waybill")), false, "no local control plane was started");

    const listed = await admin(["tokens", "--json"]);
    assert.doesNotMatch(listed.stdout, new RegExp(token.slice(-43)), "a listing never shows a secret");

    const revoked = await admin(["tokens", "revoke", "dana"]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const refused = await developer(["status"], {});
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /valid bearer token is required/);

    const badLogin = await developer(["login", url], { WAYBILL_TOKEN: token });
    assert.equal(badLogin.code, 2);
    assert.match(badLogin.stderr, /refused the token/);

    const logout = await developer(["logout"], {});
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(existsSync(join(configDir, "login.json")), false);
  },
);
