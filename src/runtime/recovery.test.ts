import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { probeHealth } from "./health.js";
import { pickFreePort } from "./ports.js";
import { RuntimeHarness, STAGE, httpRequest, isPidAlive } from "./test-harness.js";
import { waitFor } from "./timing.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");

test("after a control-plane crash a new runtime adopts, restarts and kills orphans, and serves on the same port", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const before = harness.runtime();
    await before.start();
    const proxy = await before.ensureProxy(STAGE);
    const survivor = await before.startInstance(harness.identity("survivor"));
    const victim = await before.startInstance(harness.identity("victim"));
    const routes = { stable: "survivor", candidate: "victim", candidateWeight: 0 };
    await before.setRoutes(STAGE, routes);
    // As if killed with SIGKILL: nothing is stopped and nothing is cleaned up.
    await before.close({ stopInstances: false });
    assert.ok(isPidAlive(survivor.pid ?? 0), "instances outlive their control plane");

    // While no control plane runs, one app dies and an unrecorded one appears (spawned just
    // before the crash, its pid never persisted).
    process.kill(-(victim.pid ?? 0), "SIGKILL");
    assert.ok(await waitFor(() => !isPidAlive(victim.pid ?? 0), 3000));
    const orphanPort = await pickFreePort(new Set());
    const orphan = spawn(process.execPath, [appScript], {
      detached: true,
      stdio: "ignore",
      env: {
        PORT: String(orphanPort),
        WAYBILL_CONTROL_PLANE: harness.controlPlaneId,
        WAYBILL_INSTANCE: "ghost",
      },
    });
    assert.ok(await waitFor(() => harness.leftoverProcesses().some((p) => p.pid === orphan.pid), 3000));

    const after = harness.runtime();
    await after.start();

    const orphanKilled = await harness.event("orphan.killed");
    assert.deepEqual(orphanKilled, { type: "orphan.killed", pid: orphan.pid, instanceId: "ghost" });
    assert.equal(isPidAlive(orphan.pid ?? 0), false);
    assert.equal((await probeHealth(orphanPort, "/healthz", 500)).healthy, false);

    const adopted = await harness.event("instance.adopted");
    assert.equal(adopted.instance.id, "survivor");
    assert.equal(adopted.instance.pid, survivor.pid);
    assert.deepEqual(after.getProxy(STAGE), { ...STAGE, port: proxy.port, routes });
    const served = await httpRequest(proxy.port, "/");
    assert.deepEqual([served.status, served.headers["x-waybill-instance"]], [200, "survivor"]);

    const restarted = await harness.event("instance.restarted", (event) => event.instance.id === "victim");
    assert.equal(restarted.instance.port, victim.port);
    assert.notEqual(restarted.instance.pid, victim.pid);
    const candidate = await httpRequest(proxy.port, "/", { headers: { "x-waybill-route": "candidate" } });
    assert.deepEqual([candidate.status, candidate.body], [200, "v-victim"]);

    // Adopted processes are not our children, yet their crash is noticed and repaired too.
    process.kill(survivor.pid ?? 0, "SIGKILL");
    const crashed = await harness.event("instance.crashed", (event) => event.instance.id === "survivor");
    assert.deepEqual([crashed.exitCode, crashed.signal], [null, null]);
    await harness.event("instance.restarted", (event) => event.instance.id === "survivor");
    assert.equal((await httpRequest(proxy.port, "/")).headers["x-waybill-instance"], "survivor");

    const stored = await harness.store.listInstances();
    assert.deepEqual(
      stored.map(({ id, state, port }) => ({ id, state, port })).sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: "survivor", state: "running", port: survivor.port },
        { id: "victim", state: "running", port: victim.port },
      ],
    );
    assert.deepEqual(harness.errors, []);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("a record whose pid was never persisted adopts the process that carries its id", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const before = harness.runtime();
    await before.start();
    const instance = await before.startInstance(harness.identity("web-1"));
    await before.close({ stopInstances: false });
    await harness.store.putInstance({ ...instance, pid: null, state: "starting" });

    const after = harness.runtime();
    await after.start();
    const adopted = await harness.event("instance.adopted");
    assert.equal(adopted.instance.pid, instance.pid);
    assert.equal(adopted.instance.state, "running");
    assert.deepEqual(
      harness.events.filter((event) => event.type === "orphan.killed"),
      [],
    );
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("a stage whose port was taken while the control plane was down moves to a free port and says so", async () => {
  const harness = await RuntimeHarness.create(appScript);
  const squatter = createServer();
  try {
    const before = harness.runtime();
    await before.start();
    const proxy = await before.ensureProxy(STAGE);
    const instance = await before.startInstance(harness.identity("app"));
    await before.setRoutes(STAGE, { stable: "app", candidate: null, candidateWeight: 0 });
    await before.close({ stopInstances: false });
    await new Promise<void>((resolve) => squatter.listen(proxy.port, "127.0.0.1", resolve));

    const after = harness.runtime();
    await after.start();
    const moved = after.getProxy(STAGE);
    assert.ok(moved && moved.port !== proxy.port, "the stage listens elsewhere");
    assert.deepEqual(
      (await harness.store.listProxies()).map((p) => p.port),
      [moved.port],
    );
    const served = await httpRequest(moved.port, "/");
    assert.deepEqual([served.status, served.headers["x-waybill-instance"]], [200, instance.id]);
    assert.match(String(harness.errors[0]), new RegExp(`port ${proxy.port} was taken`));
  } finally {
    squatter.close();
    assert.deepEqual(await harness.finish(), []);
  }
});
