import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_BACKOFF, restartDelayMs } from "./supervisor.js";

test("restart delays double from 1 s and stop growing at 30 s", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => restartDelayMs(attempt, DEFAULT_BACKOFF));
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(restartDelayMs(3, { initialMs: 100, maxMs: 250, resetAfterMs: 0 }), 250);
});
