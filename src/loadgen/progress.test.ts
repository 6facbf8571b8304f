import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { runLoad } from "./index.js";
import { describeProgress } from "./progress.js";

test("a load run's progress reads as one line: time, requests, p95 and errors", () => {
  const options = { target: "http://127.0.0.1:1", durationMs: 30_000, warmupMs: 500 };
  assert.equal(
    describeProgress({ elapsedMs: 12_000, sent: 600, finished: 575, errors: 1, p95Ms: 104.25 }, options),
    "load 12.0s of 30.5s: 600 sent, p95 104.3 ms, 1 error",
  );
  assert.equal(
    describeProgress({ elapsedMs: 1000, sent: 50, finished: 0, errors: 0, p95Ms: null }, options),
    "load 1.0s of 30.5s: 50 sent, no answer yet, 0 errors",
  );
});

test("a run on its worker thread reports its progress while it goes on", async () => {
  const server = createServer((_request, response) => response.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  try {
    const seen: number[] = [];
    const result = await runLoad(
      { target: `http://127.0.0.1:${port}`, rate: 20, durationMs: 3000 },
      (progress) => seen.push(progress.sent),
    );
    assert.ok(seen.length >= 1, "at least one report in a 3 s run");
    assert.ok(
      seen.every((sent, index) => index === 0 || sent >= (seen[index - 1] ?? 0)),
      "sent only grows",
    );
    assert.ok((seen.at(-1) ?? 0) <= result.requests);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
