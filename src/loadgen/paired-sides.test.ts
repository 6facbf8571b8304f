import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { runLoad } from "./generator.js";
import { mergeSideResults } from "./side-results.js";
import type { SideResult } from "./types.js";

describe("driving a live release and its candidate side by side", () => {
  it("sends a side with a target of its own to that server, on connections of its own", async () => {
    const seen: Record<string, string[]> = { front: [], own: [] };
    const serve = (name: string) =>
      createServer((request, response) => {
        seen[name]?.push(String(request.headers["x-side"]));
        response.end("ok");
      });
    const front = serve("front");
    const own = serve("own");
    await Promise.all(
      [front, own].map((server) => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))),
    );
    const portOf = (server: typeof front) => (server.address() as AddressInfo).port;
    try {
      const result = await runLoad({
        target: `http://127.0.0.1:${portOf(front)}`,
        rate: 20,
        durationMs: 1000,
        sides: [
          { name: "direct", headers: { "x-side": "direct" }, target: `http://127.0.0.1:${portOf(own)}` },
          { name: "proxied", headers: { "x-side": "proxied" } },
        ],
      });
      assert.equal(result.sides?.direct?.requests, 20);
      assert.equal(result.sides?.proxied?.requests, 20);
      assert.deepEqual([...new Set(seen.own)], ["direct"]);
      assert.deepEqual([...new Set(seen.front)], ["proxied"]);
    } finally {
      for (const server of [front, own]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });

  it("keeps a side that cannot keep up from holding up the other side's requests", async () => {
    const server = createServer((request, response) => {
      const saturated = request.headers["x-waybill-route"] === "candidate";
      setTimeout(() => response.end("ok"), saturated ? 250 : 1);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // Two connections a side at 40 a second: the candidate side needs ten, so it queues.
      const result = await runLoad({
        target: `http://127.0.0.1:${port}`,
        rate: 40,
        durationMs: 1500,
        connections: 2,
        sides: [
          { name: "baseline", headers: { "x-waybill-route": "stable" } },
          { name: "candidate", headers: { "x-waybill-route": "candidate" } },
        ],
      });
      const baseline = result.sides?.baseline;
      const candidate = result.sides?.candidate;
      assert.ok(baseline !== undefined && candidate !== undefined);
      const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1] ?? 0;
      assert.ok(median(candidate.latencySamplesMs) > 250, "the candidate's own queue counts against it");
      assert.equal(baseline.requests, 60);
      assert.equal(baseline.errors, 0);
      assert.ok(
        baseline.latency.p99 * 5 < median(candidate.latencySamplesMs),
        `the baseline's p99 ${baseline.latency.p99} ms is its own, not the candidate's queue`,
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("gives each side the same rate and mix, interleaved in a random order, and reports each apart", async () => {
    const arrivals: string[] = [];
    const server = createServer((request, response) => {
      const side = String(request.headers["x-waybill-route"]);
      arrivals.push(`${side} ${request.url ?? ""}`);
      // The candidate is slower, so its samples must come out apart from the baseline's.
      setTimeout(() => response.end("ok"), side === "candidate" ? 20 : 2);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await runLoad({
        target: `http://127.0.0.1:${port}`,
        rate: 50,
        durationMs: 2000,
        requests: [
          { method: "GET", path: "/a", weight: 3 },
          { method: "GET", path: "/b", weight: 1 },
        ],
        sides: [
          { name: "baseline", headers: { "x-waybill-route": "stable" } },
          { name: "candidate", headers: { "x-waybill-route": "candidate" } },
        ],
      });
      const baseline = result.sides?.baseline;
      const candidate = result.sides?.candidate;
      assert.ok(baseline !== undefined && candidate !== undefined);
      assert.equal(baseline.requests, 100, "50 per second per side");
      assert.equal(candidate.requests, 100);
      assert.equal(result.requests, 200);
      assert.equal(baseline.latencySamplesMs.length, 100);
      // The same moments for both sides, so a busy machine delays both alike: the medians stay apart.
      const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1] ?? 0;
      assert.ok(
        median(candidate.latencySamplesMs) > median(baseline.latencySamplesMs) + 10,
        "each side's own latencies",
      );
      // Each block sends one request from the mix to both sides: the same mix on each.
      const pathsOf = (side: string) =>
        arrivals.filter((arrival) => arrival.startsWith(side)).map((arrival) => arrival.split(" ")[1]);
      assert.deepEqual(pathsOf("stable").sort(), pathsOf("candidate").sort());
      assert.equal(baseline.endpoints["GET /a"]?.requests, candidate.endpoints["GET /a"]?.requests);
      // In a random order within each block: both orders occur.
      const firstOfBlock = arrivals
        .filter((_, index) => index % 2 === 0)
        .map((arrival) => arrival.split(" ")[0]);
      assert.ok(firstOfBlock.includes("stable") && firstOfBlock.includes("candidate"));
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("one side's results over several windows", () => {
  const window = (samples: number[], requests: number, errors: number): SideResult => ({
    requests,
    errors,
    throughput: requests / 2,
    latency: { p50: 0, p90: 0, p95: 0, p99: 0, max: Math.max(...samples) },
    endpoints: {
      "GET /": {
        requests,
        errors,
        throughput: requests / 2,
        latency: { p50: samples[0] ?? 0, p90: 0, p95: 0, p99: 0, max: Math.max(...samples) },
      },
    },
    latencySamplesMs: samples,
  });

  it("adds the counts and takes the percentiles from every window's samples", () => {
    const merged = mergeSideResults([window([1, 2, 3, 4, 5], 5, 1), window([6, 7, 8, 9, 10], 5, 0)]);
    assert.equal(merged.requests, 10);
    assert.equal(merged.errors, 1);
    assert.equal(merged.throughput, 2.5);
    assert.deepEqual(merged.latency, { p50: 5, p90: 9, p95: 10, p99: 10, max: 10 });
    assert.equal(merged.latencySamplesMs.length, 10);
    assert.equal(merged.endpoints["GET /"]?.latency.p50, 3.5, "an endpoint's: the request-weighted mean");
  });

  it("keeps a single window as it is", () => {
    const only = window([1, 2], 2, 0);
    assert.equal(mergeSideResults([only]), only);
  });
});
