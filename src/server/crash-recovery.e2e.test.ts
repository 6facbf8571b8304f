/**
 * kill -9 of the control plane in the middle of a ship, more than once, then a restart: every
 * run completes, each stage is released exactly once, and no app process is left orphaned.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, controlPlaneIdOf, processesOf, runCli, scratchExample } from "../testing/cli.js";
import type { EventView, RunView, StatusView } from "../cli/views.js";

const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

function controlPlanePid(): number {
  return (JSON.parse(readFileSync(join(scratch.stateDir, "control-plane.json"), "utf8")) as { pid: number })
    .pid;
}

async function runs(): Promise<RunView[]> {
  const result = await cli(["runs", "hello", "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { runs: RunView[] }).runs;
}

async function until(description: string, check: (all: RunView[]) => boolean): Promise<RunView[]> {
  for (let i = 0; i < 300; i++) {
    const all = await runs();
    if (check(all)) return all;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting until ${description}`);
}

function killControlPlane(): void {
  const pid = controlPlanePid();
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

test(
  "kill -9 mid-ship, then a restart: the runs complete, each stage released once, no orphans",
  { timeout: 300_000 },
  async () => {
    const shipped = await cli(["ship", "hello", "--version", "1.0.0", "--no-wait"]);
    assert.equal(shipped.code, 0, shipped.stderr);
    killControlPlane();

    await until("staging is queued or under way", (all) => all.some((run) => run.stage === "staging"));
    killControlPlane();

    const settled = await until("production waits for approval", (all) =>
      all.some((run) => run.stage === "production" && run.state === "waiting-approval"),
    );
    const production = settled.find((run) => run.stage === "production");
    assert.ok(production);
    const approved = await cli(["approve", production.id, "--no-wait"]);
    assert.equal(approved.code, 0, approved.stderr);
    killControlPlane();

    const done = await until(
      "every run finished",
      (all) => all.length === 3 && all.every((run) => run.state === "succeeded"),
    );
    assert.deepEqual(
      done.map((run) => [run.stage, run.state]),
      [
        ["dev", "succeeded"],
        ["staging", "succeeded"],
        ["production", "succeeded"],
      ],
    );

    for (const run of done) {
      const shown = await cli(["run", run.id, "--json"]);
      const events = (JSON.parse(shown.stdout) as { events: EventView[] }).events;
      const releases = events.filter((event) => event.type === "dev.waybill.release.recorded");
      assert.equal(releases.length, 1, `${run.stage} was released ${releases.length} times`);
      const finished = events.filter((event) => event.type === "dev.waybill.run.finished");
      assert.equal(finished.length, 1, `${run.stage} finished ${finished.length} times`);
    }

    const status = JSON.parse((await cli(["status", "--json"])).stdout) as StatusView;
    for (const stage of status.services[0]?.stages ?? []) {
      assert.equal(stage.state, "released", stage.name);
      assert.ok(stage.url);
      assert.equal((await (await fetch(stage.url)).text()).trim(), `hello from 1.0.0 (${stage.name})`);
    }

    const controlPlaneId = controlPlaneIdOf(scratch.stateDir);
    assert.equal(processesOf(controlPlaneId).length, 3, "one app process per stage, none orphaned");
    const down = await cli(["down"]);
    assert.equal(down.code, 0, down.stderr);
    for (let i = 0; i < 50 && processesOf(controlPlaneId).length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(processesOf(controlPlaneId), []);
  },
);
