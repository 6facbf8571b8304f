import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { UserError } from "../errors.js";
import { runLoad } from "./generator.js";
import { startTestServer } from "./test-server.test.helpers.js";

function reply(response: ServerResponse, status = 200, body = "ok"): void {
  response.writeHead(status, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
  response.end(body);
}

/** A port nothing listens on: bound once, then released */
async function refusedTarget(): Promise<string> {
  const server = await startTestServer(() => undefined);
  await server.close();
  return server.target;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const started = performance.now();
  const value = await work();
  return { value, elapsedMs: performance.now() - started };
}

describe("load generator", () => {
  it("sends at the configured rate, spread evenly over the run", async () => {
    const arrivals: number[] = [];
    const server = await startTestServer((request, response) => {
      arrivals.push(performance.now());
      reply(response);
    });
    try {
      const result = await runLoad({ target: server.target, rate: 200, durationMs: 2000, connections: 10 });
      assert.equal(result.requests, 400);
      assert.equal(arrivals.length, 400);
      assert.equal(result.errors, 0);
      assert.ok(Math.abs(result.throughput - 200) < 20, `throughput ${result.throughput}`);
      const first = arrivals[0] ?? 0;
      const perHalfSecond = [0, 0, 0, 0];
      for (const arrival of arrivals) {
        const bucket = Math.min(3, Math.floor((arrival - first) / 500));
        perHalfSecond[bucket] = (perHalfSecond[bucket] ?? 0) + 1;
      }
      for (const count of perHalfSecond)
        assert.ok(Math.abs(count - 100) <= 25, `arrivals per 0.5 s: ${perHalfSecond}`);
    } finally {
      await server.close();
    }
  });

  it("queues requests while every connection is busy and counts the wait in their latency", async () => {
    let concurrent = 0;
    let mostConcurrent = 0;
    const server = await startTestServer((request, response) => {
      concurrent++;
      mostConcurrent = Math.max(mostConcurrent, concurrent);
      setTimeout(() => {
        concurrent--;
        reply(response);
      }, 100);
    });
    try {
      // One connection, a request every 50 ms, 100 ms per answer: request i waits about 50·i ms.
      const result = await runLoad({ target: server.target, rate: 20, durationMs: 500, connections: 1 });
      assert.equal(result.requests, 10);
      assert.equal(result.errors, 0);
      assert.equal(mostConcurrent, 1);
      assert.ok(result.latency.max >= 500, `max latency ${result.latency.max} ms`);
      assert.ok(result.latency.p50 >= 250, `median latency ${result.latency.p50} ms`);
    } finally {
      await server.close();
    }
  });

  it("stops at maxRequests", async () => {
    let received = 0;
    const server = await startTestServer((request, response) => {
      received++;
      reply(response);
    });
    try {
      const closed = await timed(() =>
        runLoad({
          target: server.target,
          model: "closed",
          connections: 4,
          durationMs: 10_000,
          maxRequests: 37,
        }),
      );
      assert.equal(closed.value.requests, 37);
      assert.equal(received, 37);
      assert.ok(closed.elapsedMs < 2000, `took ${closed.elapsedMs} ms`);

      const open = await timed(() =>
        runLoad({ target: server.target, rate: 1000, durationMs: 10_000, maxRequests: 50 }),
      );
      assert.equal(open.value.requests, 50);
      assert.ok(open.elapsedMs < 2000, `took ${open.elapsedMs} ms`);
    } finally {
      await server.close();
    }
  });

  it("ends when the duration is over", async () => {
    const server = await startTestServer((request, response) => reply(response));
    try {
      const closed = await timed(() =>
        runLoad({ target: server.target, model: "closed", connections: 2, durationMs: 300 }),
      );
      // Bounds far from what a run that ignored its duration would take, so a busy machine cannot trip them.
      assert.ok(closed.elapsedMs >= 300 && closed.elapsedMs < 5000, `closed run took ${closed.elapsedMs} ms`);
      assert.ok(closed.value.requests > 10);

      const open = await timed(() => runLoad({ target: server.target, rate: 1000, durationMs: 300 }));
      assert.equal(open.value.requests, 300);
      assert.ok(open.elapsedMs < 5000, `open run took ${open.elapsedMs} ms`);
    } finally {
      await server.close();
    }
  });

  it("leaves out requests scheduled during the warm-up", async () => {
    let firstArrival: number | undefined;
    let received = 0;
    const server = await startTestServer((request, response) => {
      received++;
      firstArrival ??= performance.now();
      // Only warm-up requests are slow, so a slow one in the result means warm-up leaked in.
      const delay = performance.now() - firstArrival < 400 ? 300 : 0;
      setTimeout(() => reply(response), delay);
    });
    try {
      const result = await runLoad({
        target: server.target,
        rate: 100,
        warmupMs: 600,
        durationMs: 600,
        connections: 50,
      });
      assert.equal(received, 120);
      assert.equal(result.requests, 60);
      assert.ok(result.latency.max < 150, `max latency ${result.latency.max} ms`);
    } finally {
      await server.close();
    }
  });

  it("splits the mix by weight, reproducibly, and reports each endpoint", async () => {
    const receivedByPath = new Map<string, number>();
    const server = await startTestServer((request, response) => {
      const key = `${request.method} ${request.url}`;
      receivedByPath.set(key, (receivedByPath.get(key) ?? 0) + 1);
      reply(response);
    });
    try {
      const options = {
        target: server.target,
        model: "closed" as const,
        connections: 4,
        durationMs: 10_000,
        maxRequests: 2000,
        seed: 7,
        requests: [
          { method: "GET", path: "/items", weight: 3 },
          { method: "POST", path: "/items", body: "{}", weight: 1 },
        ],
      };
      const first = await runLoad(options);
      assert.deepEqual(Object.keys(first.endpoints), ["GET /items", "POST /items"]);
      const gets = first.endpoints["GET /items"]?.requests ?? 0;
      const posts = first.endpoints["POST /items"]?.requests ?? 0;
      assert.equal(gets + posts, 2000);
      assert.ok(Math.abs(gets / 2000 - 0.75) < 0.03, `GET share ${gets / 2000}`);
      assert.equal(receivedByPath.get("GET /items"), gets);
      assert.equal(receivedByPath.get("POST /items"), posts);

      const second = await runLoad(options);
      assert.equal(second.endpoints["GET /items"]?.requests, gets);
    } finally {
      await server.close();
    }
  });

  it("counts 5xx answers as errors with a latency, per endpoint", async () => {
    const server = await startTestServer((request, response) =>
      reply(response, request.url === "/fail" ? 503 : 200),
    );
    try {
      const result = await runLoad({
        target: server.target,
        model: "closed",
        durationMs: 10_000,
        maxRequests: 200,
        requests: [
          { method: "GET", path: "/ok" },
          { method: "GET", path: "/fail" },
        ],
      });
      const failing = result.endpoints["GET /fail"];
      assert.equal(result.endpoints["GET /ok"]?.errors, 0);
      assert.ok(failing !== undefined && failing.requests > 0);
      assert.equal(failing.errors, failing.requests);
      assert.equal(result.errors, failing.requests);
      assert.ok(failing.latency.max > 0);
    } finally {
      await server.close();
    }
  });

  it("counts refused connections as errors", async () => {
    const target = await refusedTarget();
    const open = await runLoad({ target, rate: 100, durationMs: 300 });
    assert.deepEqual([open.requests, open.errors, open.throughput], [30, 30, 0]);
    const closed = await runLoad({ target, model: "closed", durationMs: 10_000, maxRequests: 20 });
    assert.deepEqual([closed.requests, closed.errors], [20, 20]);
  });

  it("counts requests unanswered within the timeout as errors and still ends on time", async () => {
    const server = await startTestServer(() => undefined);
    try {
      const { value: result, elapsedMs } = await timed(() =>
        runLoad({ target: server.target, rate: 50, durationMs: 400, timeoutMs: 200, connections: 5 }),
      );
      assert.deepEqual([result.requests, result.errors, result.throughput], [20, 20, 0]);
      assert.ok(
        elapsedMs < 5000,
        `took ${elapsedMs} ms: a hung request must not hold the run past its duration`,
      );
    } finally {
      await server.close();
    }
  });

  it("reads chunked, Content-Length and close-delimited answers, and reconnects after Connection: close", async () => {
    const server = await startTestServer((request, response) => {
      if (request.url === "/chunked") {
        response.writeHead(200, { "Content-Type": "text/plain" });
        response.write("first ");
        setImmediate(() => {
          response.write("x".repeat(20_000));
          response.end(" last");
        });
      } else if (request.url === "/close") {
        response.writeHead(200, { Connection: "close", "Content-Length": "3" });
        response.end("bye");
      } else if (request.url === "/until-close") {
        response.socket?.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of this until the end");
        response.socket?.end();
      } else {
        reply(response, 200, "y".repeat(100_000));
      }
    });
    try {
      const result = await runLoad({
        target: server.target,
        model: "closed",
        connections: 3,
        durationMs: 10_000,
        maxRequests: 300,
        requests: ["/chunked", "/close", "/until-close", "/sized", "/sized"].map((path) => ({
          method: "GET",
          path,
        })),
      });
      assert.equal(result.requests, 300);
      assert.equal(result.errors, 0);
      assert.deepEqual(Object.keys(result.endpoints), [
        "GET /chunked",
        "GET /close",
        "GET /until-close",
        "GET /sized",
      ]);
    } finally {
      await server.close();
    }
  });

  it("delivers request bodies and headers to the server", async () => {
    const seen: { method: string; header: string | undefined; body: string }[] = [];
    const server = await startTestServer((request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (body += chunk));
      request.on("end", () => {
        seen.push({
          method: request.method ?? "",
          header: request.headers["x-run"] as string | undefined,
          body,
        });
        reply(response, 201);
      });
    });
    try {
      const result = await runLoad({
        target: server.target,
        model: "closed",
        durationMs: 10_000,
        maxRequests: 5,
        requests: [
          { method: "PUT", path: "/things/1", headers: { "X-Run": "seven" }, body: '{"name":"Zoë"}' },
        ],
      });
      assert.equal(result.errors, 0);
      assert.deepEqual(seen, Array(5).fill({ method: "PUT", header: "seven", body: '{"name":"Zoë"}' }));
    } finally {
      await server.close();
    }
  });

  it("refuses a target that is not a plain http:// base URL", async () => {
    for (const target of ["https://127.0.0.1:1", "http://127.0.0.1:1/path", "not a url"]) {
      await assert.rejects(runLoad({ target, durationMs: 100 }), UserError, target);
    }
  });
});
