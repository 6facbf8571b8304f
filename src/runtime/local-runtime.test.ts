import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { InstanceStartError } from "./local-runtime.js";
import { RuntimeHarness, STAGE, httpRequest, isPidAlive } from "./test-harness.js";
import { waitFor } from "./timing.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");

test("starts an instance with its identity in the environment and stops it without a crash event", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const started = await runtime.startInstance(harness.identity("web-1"));
    assert.equal(started.state, "running");
    assert.ok(started.pid !== null && isPidAlive(started.pid));
    assert.deepEqual(
      (await harness.store.listInstances()).map(({ id, pid, state }) => ({ id, pid, state })),
      [{ id: "web-1", pid: started.pid, state: "running" }],
    );

    const env = JSON.parse((await httpRequest(started.port, "/env")).body) as Record<string, string>;
    assert.deepEqual(env, {
      PORT: String(started.port),
      WAYBILL_SERVICE: STAGE.service,
      WAYBILL_STAGE: STAGE.stage,
      WAYBILL_VERSION: "v-web-1",
      WAYBILL_DIGEST: "sha256:web-1",
      WAYBILL_INSTANCE: "web-1",
      WAYBILL_CONTROL_PLANE: harness.controlPlaneId,
    });
    assert.equal((await harness.event("instance.started")).instance.id, "web-1");

    await runtime.stopInstance("web-1", 1000);
    await runtime.stopInstance("web-1", 1000); // idempotent
    assert.equal(isPidAlive(started.pid), false);
    assert.deepEqual(runtime.listInstances(), []);
    assert.deepEqual(await harness.store.listInstances(), []);
    assert.equal((await harness.event("instance.stopped")).instance.state, "stopped");
    // Two supervision polls later a stop must still not read as a crash.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(
      harness.events.filter(
        (event) => event.type === "instance.crashed" || event.type === "instance.restarted",
      ),
      [],
    );
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("startInstance is idempotent per id and replaces an instance whose identity changed", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const [first, second] = await Promise.all([
      runtime.startInstance(harness.identity("web-1")),
      runtime.startInstance(harness.identity("web-1")),
    ]);
    assert.equal(second.pid, first.pid);
    assert.equal((await runtime.startInstance(harness.identity("web-1"))).pid, first.pid);
    assert.equal(harness.events.filter((event) => event.type === "instance.started").length, 1);

    const changed = { ...harness.identity("web-1"), version: "v-other" };
    const replaced = await runtime.startInstance(changed);
    assert.notEqual(replaced.pid, first.pid);
    assert.equal(replaced.version, "v-other");
    assert.equal(runtime.listInstances().length, 1);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("a never-healthy instance fails with a timeout and leaves no process or record", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const startedAt = Date.now();
    await assert.rejects(
      runtime.startInstance(harness.identity("sick", { APP_FAIL_HEALTH: "1" }, 1500)),
      (error) => {
        assert.ok(error instanceof InstanceStartError);
        assert.match(error.message, /instance sick .* failed to start: health check timed out after 1\.5s/);
        assert.match(error.message, /HTTP 500/);
        return true;
      },
    );
    assert.ok(Date.now() - startedAt < 5000);
    assert.deepEqual(harness.leftoverProcesses(), []);
    assert.deepEqual(runtime.listInstances(), []);
    assert.deepEqual(await harness.store.listInstances(), []);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("an instance exiting at start fails fast with its exit code and last stderr lines", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const startedAt = Date.now();
    await assert.rejects(
      runtime.startInstance(harness.identity("broken", { APP_EXIT_AT_START: "7" }, 20_000)),
      (error) => {
        assert.ok(error instanceof InstanceStartError);
        assert.match(error.message, /failed to start: exited with code 7/);
        assert.match(
          error.message,
          /last stderr lines:\n {2}starting up\n {2}config error: DATABASE_URL is not set\n {2}giving up/,
        );
        assert.deepEqual(error.exit, { code: 7, signal: null });
        return true;
      },
    );
    assert.ok(Date.now() - startedAt < 3000, "an early exit must not wait for the health timeout");
    assert.deepEqual(harness.leftoverProcesses(), []);
    assert.deepEqual(await harness.store.listInstances(), []);

    await assert.rejects(
      runtime.startInstance({
        ...harness.identity("missing"),
        launch: { ...harness.identity("missing").launch, command: ["/no/such/binary"] },
      }),
      /failed to start: could not run \/no\/such\/binary: spawn \/no\/such\/binary ENOENT/,
    );
    assert.deepEqual(await harness.store.listInstances(), []);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("a start aborted by the caller leaves nothing behind", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const abort = new AbortController();
    const starting = runtime.startInstance(
      harness.identity("slow", { APP_FAIL_HEALTH: "1" }, 20_000),
      abort.signal,
    );
    setTimeout(() => abort.abort(), 300);
    await assert.rejects(starting, /failed to start: start was aborted/);
    assert.deepEqual(harness.leftoverProcesses(), []);
    assert.deepEqual(await harness.store.listInstances(), []);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("a crashed instance is restarted on its port with exponential backoff", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const first = await runtime.startInstance(harness.identity("flaky", { APP_CRASH_AFTER_MS: "300" }));

    const crashed = await harness.event("instance.crashed");
    assert.equal(crashed.exitCode, 42);
    assert.equal(crashed.instance.state, "stopped");
    const restarted = await harness.event("instance.restarted");
    assert.equal(restarted.attempt, 1);
    assert.equal(restarted.backoffMs, 1000);
    assert.equal(restarted.instance.port, first.port);
    assert.equal(restarted.instance.restarts, 1);
    assert.notEqual(restarted.instance.pid, first.pid);

    const again = await harness.event("instance.restarted", (event) => event.attempt === 2);
    assert.equal(again.backoffMs, 2000);
    assert.equal(again.instance.restarts, 2);
    const crashesBeforeStop = harness.events.filter((event) => event.type === "instance.crashed").length;
    await runtime.stopInstance("flaky", 0);
    assert.deepEqual(harness.leftoverProcesses(), []);
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(
      harness.events.filter((event) => event.type === "instance.crashed").length,
      crashesBeforeStop,
    );
    assert.deepEqual(await harness.store.listInstances(), []);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("app output goes to log files, which are rotated at the size cap", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const capBytes = 64 * 1024;
    const runtime = harness.runtime({ logSizeCapBytes: capBytes, pollIntervalMs: 100 });
    await runtime.start();
    const instance = await runtime.startInstance(harness.identity("chatty"));
    const logs = runtime.logFiles("chatty");
    assert.deepEqual(logs, {
      stdout: join(harness.stateDir, "logs", "chatty.stdout.log"),
      stderr: join(harness.stateDir, "logs", "chatty.stderr.log"),
    });
    assert.match(readFileSync(logs.stdout, "utf8"), /listening on \d+ as chatty/);

    await httpRequest(instance.port, "/log?bytes=100000&to=stderr");
    // Rotation copies, then truncates: done once both happened.
    assert.ok(
      await waitFor(() => existsSync(`${logs.stderr}.1`) && statSync(logs.stderr).size < capBytes, 3000),
      "the stderr log was not rotated",
    );
    assert.ok(statSync(`${logs.stderr}.1`).size >= 100_000);
    assert.ok(statSync(logs.stderr).size < capBytes);

    // The app's descriptor still appends to the truncated file.
    await httpRequest(instance.port, "/log?bytes=1000&to=stderr");
    const after = readFileSync(logs.stderr, "utf8");
    assert.ok(after.length >= 1000 && after.length < capBytes);
    assert.match(after, /^x+\n/);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});
