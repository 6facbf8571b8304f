/**
 * Recall end to end, through the real CLI: which deployments carried a vulnerable lodash,
 * found by package range and by advisory id (a real GitHub advisory), then the fixed version
 * redeployed; and the same lodash version with a different hash reported as drift.
 */
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { fixturesDir } from "../testing/paths.js";
import { cleanUp, runCli, scratchExample, writeLodashLock } from "../testing/cli.js";

const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

interface RecallView {
  advisory: { id: string } | null;
  matches: { stage: string; version: string; component: string; until: string | null }[];
  drift: { purl: string }[];
}

async function recall(query: string): Promise<RecallView> {
  const result = await cli(["recall", query, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as RecallView;
}

test(
  "recall finds the deployments that carry a vulnerable package, and redeploys the fixed version",
  { timeout: 300_000 },
  async () => {
    const file = join(scratch.serviceDir, "waybill.yaml");
    const spec = readFileSync(file, "utf8");
    const head = spec
      .slice(0, spec.indexOf("stages:"))
      .replace("command: node build.mjs", "command: node build.mjs && cp package-lock.json dist/");
    writeFileSync(file, `${head}stages:\n  - { name: dev, test: false, gate: false }\n`);
    mkdirSync(join(scratch.stateDir, "advisories"), { recursive: true });
    cpSync(join(fixturesDir, "vulns", "advisories"), join(scratch.stateDir, "advisories"), {
      recursive: true,
    });

    writeLodashLock(scratch.serviceDir, "4.17.20", "original");
    const first = await cli(["ship", "hello", "--version", "1.0.0"]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    writeLodashLock(scratch.serviceDir, "4.17.21", "fixed");
    assert.equal((await cli(["ship", "hello", "--version", "2.0.0"])).code, 0);
    assert.equal((await cli(["rollback", "hello", "dev"])).code, 0);

    const byRange = await recall("pkg:npm/lodash@<4.17.21");
    assert.deepEqual(
      byRange.matches.map((m) => [m.stage, m.version, m.component, m.until === null ? "now" : "past"]),
      [
        ["dev", "1.0.0", "pkg:npm/lodash@4.17.20", "now"],
        ["dev", "1.0.0", "pkg:npm/lodash@4.17.20", "past"],
      ],
    );
    const byAdvisory = await recall("GHSA-35jh-r3h4-6jhm");
    assert.equal(byAdvisory.advisory?.id, "GHSA-35jh-r3h4-6jhm");
    assert.deepEqual(
      byAdvisory.matches.map((m) => m.version),
      ["1.0.0", "1.0.0"],
    );
    assert.equal(
      (await recall("pkg:npm/lodash@>=4.17.21")).matches.filter((m) => m.until === null).length,
      0,
    );

    const redeployed = await cli(["recall", "pkg:npm/lodash@<4.17.21", "--redeploy", "2.0.0"]);
    assert.equal(redeployed.code, 0, redeployed.stdout + redeployed.stderr);
    const after = await recall("pkg:npm/lodash@<4.17.21");
    assert.ok(
      after.matches.every((m) => m.until !== null),
      "no current deployment carries it any more",
    );

    writeLodashLock(scratch.serviceDir, "4.17.20", "republished");
    assert.equal((await cli(["ship", "hello", "--version", "1.0.1"])).code, 0);
    const drifted = await recall("pkg:npm/lodash@4.17.20");
    assert.deepEqual(
      drifted.drift.map((d) => d.purl),
      ["pkg:npm/lodash@4.17.20"],
    );
  },
);
