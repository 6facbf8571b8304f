/**
 * The canary strategy on the local runtime, through the real CLI: the new version takes a
 * growing share of the stage's traffic, and the canary judge compares it with the stable one
 * at each step. An equal build goes live; a slower one is stopped at the first step and the
 * stage keeps serving the stable version.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, runCli, scratchExample } from "../testing/cli.js";
import type { StatusView } from "../cli/views.js";

const scratch = scratchExample("hello");
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root, env });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

function useCanaryStage(): void {
  const file = join(scratch.serviceDir, "waybill.yaml");
  const spec = readFileSync(file, "utf8");
  const stages = spec.indexOf("stages:");
  writeFileSync(
    file,
    spec.slice(0, stages) +
      "stages:\n  - name: live\n    strategy: canary\n    test: false\n    gate: false\n" +
      "    canary: { steps: [20, 50, 100], stepDuration: 3s }\n",
  );
}

async function live() {
  const status = JSON.parse((await cli(["status", "--json"])).stdout) as StatusView;
  return status.services[0]?.stages[0];
}

test(
  "a canary as fast as the stable version goes live; a slower one is stopped and rolled back",
  { timeout: 300_000 },
  async () => {
    useCanaryStage();
    const first = await cli(["ship", "hello", "--version", "1.0.0"]);
    assert.equal(first.code, 0, first.stdout + first.stderr);

    const equal = await cli(["ship", "hello", "--version", "1.1.0"], { HELLO_LABEL: "same speed" });
    assert.equal(equal.code, 0, equal.stdout + equal.stderr);
    assert.equal((await live())?.version, "1.1.0");

    const slower = await cli(["ship", "hello", "--version", "1.2.0-slow"], { HELLO_SLOW_PCT: "50" });
    assert.equal(slower.code, 1, slower.stdout + slower.stderr);
    assert.match(
      slower.stdout,
      /\[live\] 1\.2\.0-slow (?:rolling back|failed \(run r-[0-9a-f]+\)): canary: canary at 20% on local scored [\d.]+ \(fail\): latency High/,
    );
    const stage = await live();
    assert.equal(stage?.state, "rolled-back");
    assert.equal(stage?.version, "1.1.0");
    assert.equal((await (await fetch(stage?.url ?? "")).text()).trim(), "hello from 1.1.0 (live)");
  },
);
