import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { RuntimeHarness, STAGE, httpRequest, isPidAlive } from "./test-harness.js";
import { sleep } from "./timing.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");

test("a blue-green switch under 200 req/s loses no request, and blue stops only after draining", async () => {
  const harness = await RuntimeHarness.create(appScript);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);
    // Slow answers keep requests in flight to blue at the moment of the switch.
    const blue = await runtime.startInstance(harness.identity("blue", { APP_SLOW_MS: "40" }));
    await runtime.setRoutes(STAGE, { stable: "blue", candidate: null, candidateWeight: 0 });
    await runtime.startInstance(harness.identity("green", { APP_SLOW_MS: "40" }));
    await runtime.setRoutes(STAGE, { stable: "blue", candidate: "green", candidateWeight: 0 });

    const ratePerSecond = 200;
    const durationMs = 3000;
    const total = (ratePerSecond * durationMs) / 1000;
    const outcomes: Array<{ instance: string; status: number } | { error: string }> = [];
    const requests: Array<Promise<void>> = [];
    let switched: Promise<void> | undefined;
    let inFlightToBlueAtSwitch = 0;
    const begin = Date.now();
    for (let index = 0; index < total; index += 1) {
      const due = begin + (index * 1000) / ratePerSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      if (switched === undefined && Date.now() - begin >= durationMs / 2) {
        inFlightToBlueAtSwitch = (await runtime.stats(STAGE)).blue?.inFlight ?? 0;
        switched = runtime
          .setRoutes(STAGE, { stable: "green", candidate: null, candidateWeight: 0 })
          .then(() => runtime.stopInstance("blue", 5000));
      }
      requests.push(
        httpRequest(proxy.port, "/", { agent, timeoutMs: 5000 }).then(
          (result) =>
            void outcomes.push({
              instance: String(result.headers["x-waybill-instance"]),
              status: result.status,
            }),
          (error: Error) => void outcomes.push({ error: error.message }),
        ),
      );
    }
    await Promise.all(requests);
    await switched;

    const failed = outcomes.filter((outcome) => "error" in outcome || outcome.status !== 200);
    const servedBy = (id: string): number =>
      outcomes.filter((o) => "instance" in o && o.instance === id).length;
    console.log(
      `blue-green: ${outcomes.length} requests, ${failed.length} failed, blue ${servedBy("blue")}, ` +
        `green ${servedBy("green")}, ${inFlightToBlueAtSwitch} in flight to blue at the switch`,
    );
    assert.equal(outcomes.length, total);
    assert.deepEqual(failed, []);
    assert.ok(servedBy("blue") > 100 && servedBy("green") > 100);
    assert.ok(inFlightToBlueAtSwitch > 0, "the switch should happen with requests in flight to blue");

    const stopped = await harness.event("instance.stopped", (event) => event.instance.id === "blue");
    assert.equal(stopped.instance.state, "stopped");
    assert.equal(isPidAlive(blue.pid ?? 0), false);
    assert.deepEqual(
      runtime.listInstances().map((instance) => instance.id),
      ["green"],
    );
    assert.equal(harness.events.filter((event) => event.type === "instance.crashed").length, 0);
  } finally {
    agent.destroy();
    assert.deepEqual(await harness.finish(), []);
  }
});
