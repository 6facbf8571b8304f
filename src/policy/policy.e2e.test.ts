/**
 * The hostile-developer drill, through the real CLI and control plane: a developer's token
 * cannot ship production past its approver by loosening waybill.yaml, nor change the policy;
 * an admin can, and every change is in the policy's history.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, replaceStages, runCli, scratchExample } from "../testing/cli.js";

const scratch = scratchExample("hello");
const developerToken = "developer-token-for-the-policy-drill";
const asAdmin = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });
const asDeveloper = (args: string[]) =>
  runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root, env: { WAYBILL_TOKEN: developerToken } });

after(async () => {
  await asAdmin(["down"]);
  cleanUp(scratch.root);
});

function production(settings: string): void {
  replaceStages(scratch.serviceDir, [
    "{ name: dev, test: false, gate: false }",
    `{ name: production, test: false, gate: false${settings} }`,
  ]);
}

interface StatusJson {
  services: { stages: { name: string; state: string; version: string | null }[] }[];
}

test(
  "a developer cannot loosen production's approval; an admin can, and the history says who",
  { timeout: 300_000 },
  async () => {
    mkdirSync(scratch.stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(scratch.stateDir, "tokens.json"),
      JSON.stringify([{ name: "dana", role: "developer", token: developerToken }]),
      { mode: 0o600 },
    );
    production(", approval: { pass: manual, warning: manual }");
    const first = await asAdmin(["ship", "hello", "--version", "1.0.0"]);
    assert.equal(first.code, 0, first.stderr);
    const waiting = /production is waiting for approval: waybill approve (\S+)/.exec(first.stdout)?.[1];
    assert.ok(waiting !== undefined, first.stdout);
    assert.equal((await asAdmin(["approve", waiting])).code, 0);

    production("");
    const loosened = await asDeveloper(["ship", "hello", "--version", "2.0.0"]);
    assert.equal(loosened.code, 2, loosened.stdout);
    assert.match(loosened.stderr, /stages\.production\.approval\.pass: the stage policy requires manual/);
    assert.doesNotMatch(loosened.stderr, /at .*\.js:\d+/, "no stack trace");
    const runs = await asAdmin(["runs", "hello", "--json"]);
    const versions = (JSON.parse(runs.stdout) as { runs: { version: string }[] }).runs.map(
      (run) => run.version,
    );
    assert.ok(!versions.includes("2.0.0"), `nothing of 2.0.0 ran: ${versions.join(", ")}`);

    const bypass = await asDeveloper([
      "policy",
      "set",
      "hello",
      "production",
      "--approval-pass",
      "automatic",
    ]);
    assert.equal(bypass.code, 2);
    assert.match(bypass.stderr, /needs the admin role/);

    const set = await asAdmin([
      "policy",
      "set",
      "hello",
      "production",
      "--approval-pass",
      "automatic",
      "--approval-warning",
      "automatic",
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /hello\/production: approval automatic\/automatic/);

    const second = await asDeveloper(["ship", "hello", "--version", "2.0.0"]);
    assert.equal(second.code, 0, second.stderr);
    const status = JSON.parse((await asAdmin(["status", "hello", "--json"])).stdout) as StatusJson;
    const prod = status.services[0]?.stages.find((stage) => stage.name === "production");
    assert.deepEqual([prod?.state, prod?.version], ["released", "2.0.0"]);

    const history = await asAdmin(["policy", "history", "hello", "production", "--json"]);
    const changes = JSON.parse(history.stdout) as { by: string; reason: string }[];
    assert.deepEqual(
      changes.map((change) => `${change.reason} by ${change.by}`),
      ["set by admin", "first ship by admin"],
    );
    const shown = await asDeveloper(["policy", "show", "hello"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /production\s+automatic\/automatic/);
  },
);
