import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pollInterval } from "./follow.js";

describe("how often a ship's runs are polled", () => {
  const cases = [
    { quietMs: 0, intervalMs: 20, why: "just after a change, when the next tends to follow at once" },
    { quietMs: 300, intervalMs: 50, why: "a tenth of the quiet time on top" },
    { quietMs: 1_000, intervalMs: 120, why: "a tenth of the quiet time on top" },
    { quietMs: 2_300, intervalMs: 250, why: "no more than the former fixed interval" },
    { quietMs: 600_000, intervalMs: 250, why: "however long a load test runs" },
    { quietMs: -5, intervalMs: 20, why: "a clock that stepped back is no quiet time" },
  ];
  for (const { quietMs, intervalMs, why } of cases) {
    it(`waits ${intervalMs} ms after ${quietMs} ms without a change: ${why}`, () =>
      assert.equal(pollInterval(quietMs, false), intervalMs));
  }
  for (const quietMs of [0, 300, 5_000]) {
    it(`waits 250 ms after ${quietMs} ms while a run measures its version, out of the load's way`, () =>
      assert.equal(pollInterval(quietMs, true), 250));
  }
});
