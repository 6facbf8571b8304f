/**
 * The hostile-app drill, through the real CLI and control plane running as root: a deployed
 * app cannot read the token, tokens.json, the keys or the database, nor rewrite its artifact;
 * its env secret is not stored in clear; an artifact altered in the store is not restarted.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { openSqliteStore } from "../store/sqlite-store.js";
import { cleanUp, controlPlaneIdOf, processesOf, runCli, scratchExample } from "../testing/cli.js";
import { fixturesDir } from "../testing/paths.js";

const asRoot = process.getuid?.() === 0;
const scratch = scratchExample("hello");
const serviceDir = join(scratch.root, "probe");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });
const secret = "s3cret-database-password-0123";

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

interface Probe {
  uid: number;
  secret: string;
  results: Record<string, string>;
}

test(
  "an app reaches no secret of the control plane and cannot change its artifact",
  { timeout: 300_000, skip: asRoot ? false : "apps run as another user only when Waybill runs as root" },
  async () => {
    mkdirSync(serviceDir, { recursive: true });
    copyFileSync(join(fixturesDir, "isolation", "probe.mjs"), join(serviceDir, "probe.mjs"));
    writeFileSync(
      join(serviceDir, "waybill.yaml"),
      [
        "metadata: {name: probe}",
        "run:",
        "  command: node probe.mjs",
        `  env: {PROBE_STATE: ${JSON.stringify(scratch.stateDir)}, PROBE_SECRET: ${secret}}`,
        "stages: [{name: dev, test: false, gate: false}]",
        "",
      ].join("\n"),
    );
    mkdirSync(scratch.stateDir, { recursive: true });
    writeFileSync(join(scratch.stateDir, "tokens.json"), "[]", { mode: 0o600 });
    const shipped = await cli(["ship", "probe", "--version", "1.0.0"]);
    assert.equal(shipped.code, 0, shipped.stderr);

    const status = JSON.parse((await cli(["status", "probe", "--json"])).stdout) as {
      services: { stages: { url: string }[] }[];
    };
    const url = status.services[0]?.stages[0]?.url ?? "";
    const probe = (await (await fetch(new URL("/probe", url))).json()) as Probe;
    assert.notEqual(probe.uid, 0, "the app does not run as root");
    assert.equal(probe.secret, secret, "the app gets its env");
    assert.deepEqual(probe.results, {
      "read token": "EACCES",
      "read tokens.json": "EACCES",
      "list keys": "EACCES",
      "read database": "EACCES",
      "list state": "EACCES",
      "write artifact": "EACCES",
    });

    const database = [readFileSync(join(scratch.stateDir, "waybill.db"))];
    for (const name of readdirSync(scratch.stateDir).filter((file) => file.startsWith("waybill.db-"))) {
      database.push(readFileSync(join(scratch.stateDir, name)));
    }
    assert.ok(
      database.every((bytes) => !bytes.includes(secret)),
      "the env secret is not in the database in clear",
    );

    const store = await openSqliteStore(join(scratch.stateDir, "waybill.db"));
    const [artifact] = await store.artifactsByDigest(
      (await store.listRuns({ service: "probe" }))[0]?.digest ?? "",
    );
    assert.ok(artifact !== undefined);
    writeFileSync(join(artifact.path, "probe.mjs"), "process.exit(0);\n");
    for (const pid of processesOf(controlPlaneIdOf(scratch.stateDir))) process.kill(pid, "SIGKILL");
    let tampered: { reason?: string } | undefined;
    for (let i = 0; i < 600 && tampered === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      tampered = (await store.events()).find((event) => event.type === "dev.waybill.instance.tampered")
        ?.data as { reason?: string } | undefined;
    }
    await store.close();
    assert.match(
      tampered?.reason ?? "",
      /no longer matches sha256:[0-9a-f]{64}.*it was altered, so it is not started/,
    );
    assert.deepEqual(
      processesOf(controlPlaneIdOf(scratch.stateDir)),
      [],
      "the altered app was not started again",
    );
  },
);
