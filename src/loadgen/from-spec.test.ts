import assert from "node:assert/strict";
import { it } from "node:test";
import type { LoadSpec } from "../spec/schema.js";
import { loadOptionsFromSpec } from "./from-spec.js";

it("turns a test.load block into generator options with durations in milliseconds", () => {
  const spec: LoadSpec = {
    model: "closed",
    rate: 80,
    duration: "1m30s",
    warmup: "500ms",
    connections: 4,
    workers: 2,
    maxRequests: 1000,
    timeout: "2s",
    requests: [{ method: "POST", path: "/cart", headers: { "X-A": "1" }, body: "{}", weight: 2 }],
  };
  assert.deepEqual(loadOptionsFromSpec(spec, "http://127.0.0.1:8080"), {
    target: "http://127.0.0.1:8080",
    model: "closed",
    rate: 80,
    durationMs: 90_000,
    warmupMs: 500,
    connections: 4,
    workers: 2,
    maxRequests: 1000,
    timeoutMs: 2000,
    requests: [{ method: "POST", path: "/cart", headers: { "X-A": "1" }, body: "{}", weight: 2 }],
  });
});
