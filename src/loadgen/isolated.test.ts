/**
 * The generator's threads are kept warm between runs: a run ending with a result gives its thread
 * back, a failed one ends it, and idle threads never keep the process alive.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";
import { idleLoadWorkers, prewarmLoad, runLoad } from "./isolated.js";
import { startTestServer } from "./test-server.test.helpers.js";

describe("the generator's warm threads", () => {
  it("gives a thread back after a run, and the next run on it measures the same", async () => {
    const server = await startTestServer((_request, response) => response.end("ok"));
    try {
      prewarmLoad({ workers: 2, connections: 4 });
      const before = idleLoadWorkers();
      assert.ok(before >= 2, `${before} idle threads after a prewarm of two`);
      const options = {
        target: server.target,
        rate: 400,
        durationMs: 1000,
        maxRequests: 120,
        connections: 4,
      };
      const first = await runLoad({ ...options, workers: 2 });
      assert.equal(idleLoadWorkers(), before, "both threads are back, and none was started");
      const second = await runLoad({ ...options, workers: 2 });
      assert.equal(idleLoadWorkers(), before);
      for (const result of [first, second]) {
        assert.equal(result.requests, 120);
        assert.equal(result.errors, 0);
        assert.equal(result.generator.inconclusive, null);
      }
      assert.deepEqual(Object.keys(second.endpoints), Object.keys(first.endpoints));
    } finally {
      await server.close();
    }
  });

  it("ends a thread whose run failed instead of keeping it", async () => {
    prewarmLoad({ workers: 1, connections: 1 });
    const before = idleLoadWorkers();
    await assert.rejects(
      runLoad({ target: "http://127.0.0.1:1", durationMs: 100, rate: -1 }),
      (error: unknown) => error instanceof UserError && /rate must be a positive number/.test(error.message),
    );
    assert.equal(idleLoadWorkers(), before - 1);
  });

  it("keeps no more threads than a run asks for when prewarming again", () => {
    prewarmLoad({ workers: 1 });
    const idle = idleLoadWorkers();
    prewarmLoad({ workers: 1 });
    assert.equal(idleLoadWorkers(), idle);
  });

  it("lets a process with idle threads exit on its own", () => {
    const isolated = fileURLToPath(new URL("./isolated.js", import.meta.url));
    const script = `import { prewarmLoad } from ${JSON.stringify(isolated)}; prewarmLoad({ workers: 2 });`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(child.signal, null, "it had to be killed: the idle threads kept it alive");
    assert.equal(child.status, 0, child.stderr);
  });
});
