import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { drivePairedLoad } from "./paired-load.js";

test("the paired load says when its measured load ran: after the warm-up, where the requests arrived", async () => {
  const arrivals: number[] = [];
  const server = createServer((request, response) => {
    arrivals.push(Date.now());
    response.end("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const { port } = server.address() as AddressInfo;
    const warmupMs = 500;
    const calledAtMs = Date.now();
    const outcome = await drivePairedLoad({
      load: {
        model: "open",
        rate: 40,
        duration: "2s",
        warmup: `${warmupMs}ms`,
        connections: 4,
        timeout: "5s",
        requests: [{ method: "GET", path: "/", headers: {}, weight: 1 }],
      },
      objectives: [],
      url: `http://127.0.0.1:${port}`,
      baselineHeaders: { "x-side": "baseline" },
      candidateHeaders: { "x-side": "candidate" },
      describeSides: "two sides",
      progress: () => undefined,
      signal: new AbortController().signal,
    });
    const returnedAtMs = Date.now();
    assert.equal(outcome.inconclusive, null);
    if (outcome.inconclusive !== null) return;
    const { fromMs, toMs } = outcome.loadWindow;
    assert.ok(
      fromMs >= calledAtMs + warmupMs && toMs <= returnedAtMs && fromMs < toMs,
      JSON.stringify(outcome.loadWindow),
    );
    const measured = outcome.requests.baseline + outcome.requests.candidate;
    const inWindow = arrivals.filter((at) => at >= fromMs && at <= toMs).length;
    // The window's start is read from the generator's progress, a message behind its clock:
    // most of the measured requests, not all, must have arrived inside it.
    assert.ok(
      inWindow >= measured * 0.75,
      `${inWindow} of ${measured} measured requests arrived in the window`,
    );
  } finally {
    server.close();
  }
});
