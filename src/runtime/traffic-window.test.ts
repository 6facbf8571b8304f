import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { RuntimeHarness, STAGE, httpRequest } from "./test-harness.js";
import { sleep } from "./timing.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");

test("traffic windows see each version's latency and errors through the stage proxy", async () => {
  const harness = await RuntimeHarness.create(appScript);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const runtime = harness.runtime();
    await runtime.start();
    await assert.rejects(runtime.openTrafficWindow(STAGE), /has no proxy/);
    const proxy = await runtime.ensureProxy(STAGE);
    await runtime.startInstance(harness.identity("stable"));
    await runtime.startInstance(harness.identity("canary", { APP_SLOW_MS: "40" }));
    await runtime.setRoutes(STAGE, { stable: "stable", candidate: "canary", candidateWeight: 0 });

    await httpRequest(proxy.port, "/", { agent }); // before any window: not in them
    const whole = await runtime.openTrafficWindow(STAGE);
    const openedAt = Date.now();
    const canary = { "x-waybill-route": "candidate" };
    for (let index = 0; index < 10; index += 1) {
      await Promise.all([
        httpRequest(proxy.port, "/", { agent, headers: canary }),
        httpRequest(proxy.port, index % 2 === 0 ? "/status?code=500" : "/", { agent }),
      ]);
    }
    const late = await runtime.openTrafficWindow(STAGE);
    await httpRequest(proxy.port, "/", { agent });
    // Into the second second, so the first one is whole.
    await sleep(Math.max(0, 1100 - (Date.now() - openedAt)));
    const traffic = await whole.read();
    await whole.close();

    const stable = traffic.stable;
    const slow = traffic.canary;
    assert.ok(stable !== undefined && slow !== undefined);
    assert.equal(stable.version, "v-stable");
    assert.equal(stable.requests, 11);
    assert.equal(stable.errors, 5);
    assert.equal(slow.version, "v-canary");
    assert.equal(slow.requests, 10);
    assert.equal(slow.errors, 0);
    assert.equal(slow.latencySamplesMs.length, 10);
    assert.ok(slow.latency.p50 >= 40, `canary p50 ${slow.latency.p50} ms`);
    assert.ok(slow.latencySamplesMs.every((latency) => latency >= 40));
    assert.ok(stable.latency.p50 < 40, `stable p50 ${stable.latency.p50} ms`);
    assert.ok(slow.latency.max >= slow.latency.p99 && slow.latency.p99 >= slow.latency.p50);
    // All of it happened in the first second, which has ended.
    assert.equal(stable.errorRatePerSecond.length, 1);
    assert.ok(Math.abs((stable.errorRatePerSecond[0] ?? 0) - (100 * 5) / 11) < 1e-9);
    assert.deepEqual(slow.errorRatePerSecond, [0]);

    assert.deepEqual(Object.keys(await late.read()), ["stable"]);
    assert.equal((await late.read()).stable?.requests, 1);
    await late.close();
  } finally {
    agent.destroy();
    assert.deepEqual(await harness.finish(), []);
  }
});
