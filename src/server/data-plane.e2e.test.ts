/**
 * The data plane outlives the control plane, through the real CLI: stage URLs keep answering
 * every request while the control plane is killed and away, take the new routes when it is back,
 * and a killed data plane is started again by the control plane with its routes.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { readControlPlaneInfo } from "../cli/client.js";
import { cleanUp, eventually, isAlive, runCli, scratchExample, shipToDevOnly } from "../testing/cli.js";

const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function body(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const text = await response.text();
    return response.status === 200 ? text : undefined;
  } catch {
    return undefined;
  }
}

function dataPlanePid(): number {
  return (JSON.parse(readFileSync(join(scratch.stateDir, "data-plane.json"), "utf8")) as { pid: number }).pid;
}

test(
  "stage URLs answer every request while the control plane is killed, and take new routes when it returns",
  { timeout: 300_000 },
  async () => {
    const url = await shipToDevOnly(scratch.serviceDir, cli, "1.0.0");
    assert.match((await body(url)) ?? "", /hello from 1\.0\.0/);

    const controlPlane = readControlPlaneInfo(scratch.stateDir)?.pid ?? 0;
    assert.notEqual(dataPlanePid(), controlPlane, "the proxies run in a process of their own");
    const requests = 150;
    let answered = 0;
    for (let index = 0; index < requests; index++) {
      if (index === 10) process.kill(controlPlane, "SIGKILL");
      if ((await body(url))?.includes("hello from 1.0.0") === true) answered += 1;
      await sleep(10);
    }
    assert.equal(isAlive(controlPlane), false, "the control plane was dead for the requests after the 10th");
    assert.equal(answered, requests, `${answered} of ${requests} requests answered`);

    const next = await cli(["ship", "hello", "--version", "1.0.1"]);
    assert.equal(next.code, 0, next.stderr);
    assert.match((await body(url)) ?? "", /hello from 1\.0\.1/, "the returned control plane set new routes");

    const dataPlane = dataPlanePid();
    process.kill(dataPlane, "SIGKILL");
    await eventually("a new data plane serving the stage", async () => {
      return (await body(url))?.includes("hello from 1.0.1") === true;
    });
    assert.notEqual(dataPlanePid(), dataPlane);

    const last = dataPlanePid();
    const down = await cli(["down"]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await body(url), undefined, "down stops the stage proxies too");
    assert.equal(isAlive(last), false);
  },
);
