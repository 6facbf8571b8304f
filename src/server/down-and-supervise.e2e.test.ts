/**
 * The stages after the control plane is gone, through the real CLI: `down` stops every app even
 * when the control plane is dead; the next start brings every released stage back, after a
 * clean `down` as after a crash; `serve --supervise` starts a killed control plane again.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import { readControlPlaneInfo } from "../cli/client.js";
import {
  cleanUp,
  controlPlaneIdOf,
  eventually,
  isAlive,
  processesOf,
  runCli,
  scratchExample,
  shipToDevOnly,
} from "../testing/cli.js";
import { cliEntry } from "../testing/paths.js";

const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

test(
  "down stops every app with or without a control plane, and the next start brings the stage back",
  { timeout: 300_000 },
  async () => {
    const url = await shipToDevOnly(scratch.serviceDir, cli, "1.0.0");
    assert.ok(await answers(url));
    const id = controlPlaneIdOf(scratch.stateDir);

    const controlPlane = readControlPlaneInfo(scratch.stateDir)?.pid ?? 0;
    process.kill(controlPlane, "SIGKILL");
    await eventually("the control plane's death", () => !isAlive(controlPlane));
    assert.ok(processesOf(id).length > 0, "the app outlived the control plane");
    const down = await cli(["down"]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /stopped 1 app process group/);
    assert.match(down.stdout, /stopped the data plane/);
    assert.deepEqual(processesOf(id), [], "no app is left running");

    assert.equal((await cli(["status", "hello"])).code, 0);
    await eventually("dev answering again after a crash and down", () => answers(url));

    const cleanDown = await cli(["down"]);
    assert.match(cleanDown.stdout, /control plane stopped/);
    assert.deepEqual(processesOf(id), []);
    assert.equal((await cli(["status", "hello"])).code, 0);
    await eventually("dev answering again after a clean down", () => answers(url));
    await cli(["down"]);
  },
);

test(
  "serve --supervise starts a killed control plane again, and stops with SIGTERM",
  { timeout: 120_000 },
  async () => {
    const supervisor = spawn(
      process.execPath,
      [cliEntry, "--state", scratch.stateDir, "serve", "--supervise", "--port", "0"],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let log = "";
    supervisor.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => supervisor.once("exit", (code) => resolve(code)));
    let first = 0;
    await eventually("a supervised control plane", () => {
      first = readControlPlaneInfo(scratch.stateDir)?.pid ?? 0;
      return first !== 0;
    });
    process.kill(first, "SIGKILL");
    await eventually("a new control plane after kill -9", () => {
      const pid = readControlPlaneInfo(scratch.stateDir)?.pid;
      return pid !== undefined && pid !== first;
    });
    assert.match(log, /the control plane ended \(SIGKILL\); starting it again/);
    supervisor.kill("SIGTERM");
    assert.equal(await exited, 0);
  },
);

test("serve --systemd-unit prints a unit that restarts the control plane and leaves the apps to it", async () => {
  const unit = await cli(["serve", "--systemd-unit", "--port", "7300"]);
  assert.equal(unit.code, 0, unit.stderr);
  assert.match(unit.stdout, /^ExecStart=\S+node\S* \S+main\.js --state \S+ serve --port 7300$/m);
  assert.match(unit.stdout, /^Restart=always$/m);
  assert.match(unit.stdout, /^KillMode=process$/m);
});
