/**
 * Why the open model measures from the scheduled send time: against a server that stalls
 * for 1 s every 5 s, the users who arrived during the stall all waited. A closed-model
 * client waits with them instead of arriving, so it records one slow request per
 * connection and its percentiles look healthy.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { runLoad } from "./generator.js";
import { type TestServer, startTestServer } from "./test-server.test.helpers.js";

const answerMs = 10;
const periodMs = 5000;
const stallMs = 1000;

/** Answers in 10 ms, except that during the last second of every 5 s it holds every answer until the second is over */
async function startStallingServer(): Promise<TestServer> {
  const startedAt = performance.now();
  return startTestServer((request, response) => {
    const phase = (performance.now() - startedAt) % periodMs;
    const delay = phase >= periodMs - stallMs ? periodMs - phase + answerMs : answerMs;
    setTimeout(() => response.end("ok"), delay);
  });
}

it("shows a periodic 1 s stall in the open-model p99, which the closed model hides", async () => {
  const [openServer, closedServer] = await Promise.all([startStallingServer(), startStallingServer()]);
  try {
    // Both models at about 100 requests/s: the closed one gets there with one connection at ~10 ms per answer.
    const [open, closed] = await Promise.all([
      runLoad({ target: openServer.target, model: "open", rate: 100, durationMs: 10_000, connections: 10 }),
      runLoad({ target: closedServer.target, model: "closed", durationMs: 10_000, connections: 1 }),
    ]);
    assert.equal(open.errors, 0);
    assert.ok(open.latency.p99 >= 400, `open-model p99 ${open.latency.p99} ms should show the stall`);

    assert.ok(closed.latency.max >= 400, `closed-model max ${closed.latency.max} ms: it did meet the stall`);
    assert.ok(closed.latency.p99 < 100, `closed-model p99 ${closed.latency.p99} ms: but hides it`);
    assert.ok(
      open.latency.p99 > 5 * closed.latency.p99,
      `open p99 ${open.latency.p99} ms vs closed p99 ${closed.latency.p99} ms`,
    );
  } finally {
    await Promise.all([openServer.close(), closedServer.close()]);
  }
});
