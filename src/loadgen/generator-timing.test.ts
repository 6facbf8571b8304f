/**
 * The generator watches its own timing: when its thread is held up, the figures are its own
 * lateness, not the service's, and the result says it is inconclusive. On its own thread, a
 * stall of the caller's (the control plane's) thread does not reach it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { generatorTiming, runLoad as runLoadHere } from "./generator.js";
import { runLoad } from "./isolated.js";

function holdThisThread(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe("the generator's own timing", () => {
  const vectors: [number, number, number, boolean][] = [
    [0, 0, 10_000, false],
    [400, 40, 10_000, false],
    [501, 40, 10_000, true],
    [100, 251, 10_000, true],
    [250, 250, 10_000, false],
    [90, 90, 200, false],
    [101, 60, 200, true],
  ];
  for (const [stalledMs, maxStallMs, windowMs, inconclusive] of vectors) {
    it(`held up ${stalledMs} ms (longest ${maxStallMs}) of ${windowMs} ms is ${inconclusive ? "inconclusive" : "conclusive"}`, () => {
      const timing = generatorTiming(stalledMs, maxStallMs, windowMs);
      assert.equal(timing.inconclusive !== null, inconclusive);
      if (inconclusive)
        assert.match(timing.inconclusive ?? "", /^inconclusive: the load generator could not keep its rate/);
    });
  }

  it("says inconclusive when its thread is held up, instead of charging the service", async () => {
    const server = createServer((_request, response) => response.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const held = setTimeout(() => holdThisThread(600), 500);
    const result = await runLoadHere({ target: `http://127.0.0.1:${port}`, rate: 100, durationMs: 1500 });
    clearTimeout(held);
    server.closeAllConnections();
    server.close();
    assert.match(
      result.generator.inconclusive ?? "",
      /could not keep its rate \(held up \d+ ms of the 1500 ms window/,
    );
    assert.ok(result.generator.maxStallMs >= 500, `longest stall ${result.generator.maxStallMs} ms`);
  });

  it("on its own thread, keeps its rate while the caller's thread is held up", async () => {
    const app = spawn(
      process.execPath,
      [
        "-e",
        "require('http').createServer((q, r) => r.end('ok')).listen(0, '127.0.0.1', function () { console.log(this.address().port); })",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const port = await new Promise<number>((resolve) =>
        app.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
      );
      const held = setTimeout(() => holdThisThread(600), 500);
      const result = await runLoad({ target: `http://127.0.0.1:${port}`, rate: 100, durationMs: 3000 });
      clearTimeout(held);
      assert.equal(result.generator.inconclusive, null, JSON.stringify(result.generator));
      assert.equal(result.errors, 0);
      assert.ok(result.requests >= 290, `${result.requests} requests`);
    } finally {
      app.kill();
    }
  });

  it("on its own thread, a bad target is still the user's mistake", async () => {
    await assert.rejects(runLoad({ target: "ftp://127.0.0.1:1", durationMs: 100 }), /only http:\/\/ targets/);
  });
});
