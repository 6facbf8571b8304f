import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Agent, request } from "node:http";
import { type AddressInfo, type Socket, createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fixturesDir } from "../testing/paths.js";
import { StageProxy } from "./proxy.js";
import { RuntimeHarness, STAGE, httpRequest } from "./test-harness.js";
import { waitFor } from "./timing.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");

/** The fixture's /download pattern: byte i is i mod 251. */
function patternDigest(bytes: number): string {
  const hash = createHash("sha256");
  const block = Buffer.alloc(251 * 256);
  for (let index = 0; index < block.length; index += 1) block[index] = index % 251;
  for (let sent = 0; sent < bytes; sent += block.length)
    hash.update(block.subarray(0, Math.min(block.length, bytes - sent)));
  return hash.digest("hex");
}

test("proxies over kept-alive connections on both sides and streams large bodies intact", async () => {
  const harness = await RuntimeHarness.create(appScript);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);
    const instance = await runtime.startInstance(harness.identity("web-1"));
    await runtime.setRoutes(STAGE, { stable: "web-1", candidate: null, candidateWeight: 0 });
    assert.deepEqual(runtime.getProxy(STAGE)?.routes, {
      stable: "web-1",
      candidate: null,
      candidateWeight: 0,
    });

    const reused: boolean[] = [];
    const upstreamClientPorts = new Set<string>();
    for (let index = 0; index < 5; index += 1) {
      const result = await new Promise<{ body: string; reused: boolean; instance: unknown }>(
        (resolve, reject) => {
          const outgoing = request(
            { host: "127.0.0.1", port: proxy.port, path: "/conn", agent },
            (response) => {
              let body = "";
              response.setEncoding("utf8");
              response.on("data", (chunk: string) => (body += chunk));
              response.on("end", () =>
                resolve({
                  body,
                  reused: outgoing.reusedSocket,
                  instance: response.headers["x-waybill-instance"],
                }),
              );
            },
          );
          outgoing.on("error", reject);
          outgoing.end();
        },
      );
      assert.equal(result.instance, "web-1");
      reused.push(result.reused);
      upstreamClientPorts.add(result.body);
    }
    assert.deepEqual(
      reused,
      [false, true, true, true, true],
      "the client's connection to the proxy is reused",
    );
    assert.equal(upstreamClientPorts.size, 1, "the proxy's connection to the app is reused");

    const forwarded = JSON.parse((await httpRequest(proxy.port, "/env")).body) as Record<string, string>;
    assert.equal(forwarded.PORT, String(instance.port));

    const uploadBytes = 24 * 1024 * 1024;
    const uploadHash = createHash("sha256");
    const upload = await new Promise<string>((resolve, reject) => {
      const outgoing = request(
        { host: "127.0.0.1", port: proxy.port, path: "/upload", method: "POST", agent },
        (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (body += chunk));
          response.on("end", () => resolve(body));
        },
      );
      outgoing.on("error", reject);
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      Readable.from(
        (function* () {
          while (sent < uploadBytes) {
            chunk.fill(sent % 256);
            sent += chunk.length;
            uploadHash.update(chunk);
            yield Buffer.from(chunk);
          }
        })(),
      ).pipe(outgoing);
    });
    assert.deepEqual(JSON.parse(upload), { bytes: uploadBytes, sha256: uploadHash.digest("hex") });

    const downloadBytes = 24 * 1024 * 1024 + 7;
    const download = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      const outgoing = request(
        { host: "127.0.0.1", port: proxy.port, path: `/download?bytes=${downloadBytes}`, agent },
        (response) => {
          const hash = createHash("sha256");
          let bytes = 0;
          response.on("data", (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
          });
          response.on("end", () => resolve({ bytes, sha256: hash.digest("hex") }));
        },
      );
      outgoing.on("error", reject);
      outgoing.end();
    });
    assert.deepEqual(download, { bytes: downloadBytes, sha256: patternDigest(downloadBytes) });
    assert.deepEqual(await runtime.stats(STAGE), { "web-1": { requests: 8, errors: 0, inFlight: 0 } });
  } finally {
    agent.destroy();
    assert.deepEqual(await harness.finish(), []);
  }
});

test("streams request and response bodies through without buffering them", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);
    await runtime.startInstance(harness.identity("web-1"));
    await runtime.setRoutes(STAGE, { stable: "web-1", candidate: null, candidateWeight: 0 });

    // Each chunk must make the round trip through the app before the next one is sent.
    const echoed: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const outgoing = request(
        { host: "127.0.0.1", port: proxy.port, path: "/echo", method: "POST" },
        (response) => {
          response.setEncoding("utf8");
          let pending = "";
          response.on("data", (chunk: string) => {
            pending += chunk;
            while (pending.includes("\n")) {
              const line = pending.slice(0, pending.indexOf("\n"));
              pending = pending.slice(pending.indexOf("\n") + 1);
              echoed.push(line);
              if (echoed.length < 5) outgoing.write(`ping-${echoed.length}\n`);
              else outgoing.end();
            }
          });
          response.on("end", () => resolve());
        },
      );
      outgoing.setTimeout(5000, () => outgoing.destroy(new Error("the echo stalled: a body was buffered")));
      outgoing.on("error", reject);
      outgoing.write("ping-0\n");
    });
    assert.deepEqual(echoed, ["ping-0", "ping-1", "ping-2", "ping-3", "ping-4"]);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("pinned requests reach the candidate and the rest split by weight", async () => {
  const harness = await RuntimeHarness.create(appScript);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);
    await Promise.all([
      runtime.startInstance(harness.identity("blue")),
      runtime.startInstance(harness.identity("green")),
    ]);

    await runtime.setRoutes(STAGE, { stable: "blue", candidate: "green", candidateWeight: 0 });
    const pinned = await httpRequest(proxy.port, "/", { agent, headers: { "x-waybill-route": "candidate" } });
    assert.equal(pinned.body, "v-green");
    assert.equal(pinned.headers["x-waybill-instance"], "green");
    const unpinned = await httpRequest(proxy.port, "/", { agent });
    assert.equal(unpinned.headers["x-waybill-instance"], "blue");

    await runtime.setRoutes(STAGE, { stable: "blue", candidate: "green", candidateWeight: 25 });
    const total = 400;
    const served = { blue: 0, green: 0 };
    for (let batch = 0; batch < total / 20; batch += 1) {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => httpRequest(proxy.port, "/", { agent })),
      );
      for (const result of results) served[result.body === "v-green" ? "green" : "blue"] += 1;
    }
    // 25% of 400 is 100, with a standard deviation of about 8.7.
    assert.ok(served.green >= 60 && served.green <= 140, `candidate served ${served.green} of ${total}`);
    assert.equal(served.blue + served.green, total);
    const stats = await runtime.stats(STAGE);
    assert.equal(stats.green?.requests, served.green + 1);
    assert.equal(stats.blue?.requests, served.blue + 1);
  } finally {
    agent.destroy();
    assert.deepEqual(await harness.finish(), []);
  }
});

test("answers 503 without a route, 502 when the instance is unreachable, and counts errors", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    // Supervision slowed down, so the killed instance stays routed while we probe it.
    const runtime = harness.runtime({ pollIntervalMs: 60_000 });
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);

    const noRoute = await httpRequest(proxy.port, "/");
    assert.equal(noRoute.status, 503);
    assert.match(noRoute.body, /no route: nothing serves shop\/staging/);

    const instance = await runtime.startInstance(harness.identity("web-1"));
    await runtime.setRoutes(STAGE, { stable: "web-1", candidate: null, candidateWeight: 0 });
    const noCandidate = await httpRequest(proxy.port, "/", { headers: { "x-waybill-route": "candidate" } });
    assert.equal(noCandidate.status, 503);

    assert.equal((await httpRequest(proxy.port, "/status?code=500")).status, 500);
    assert.equal((await httpRequest(proxy.port, "/status?code=404")).status, 404);

    process.kill(instance.pid ?? 0, "SIGKILL");
    assert.ok(await waitFor(() => harness.leftoverProcesses().length === 0, 3000));
    const unreachable = await httpRequest(proxy.port, "/");
    assert.equal(unreachable.status, 502);
    assert.equal(unreachable.headers["x-waybill-instance"], "web-1");
    assert.match(unreachable.body, /bad gateway: instance web-1 did not answer/);
    assert.deepEqual(await runtime.stats(STAGE), { "web-1": { requests: 3, errors: 2, inFlight: 0 } });
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("a stage keeps its proxy port: reused when stored, else the first free one in the range", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const first = harness.runtime();
    await first.start();
    const proxy = await first.ensureProxy(STAGE);
    assert.ok(proxy.port >= harness.portRange[0] && proxy.port <= harness.portRange[1]);
    assert.deepEqual(await first.ensureProxy(STAGE), proxy);
    const other = await first.ensureProxy({ service: "shop", stage: "production" });
    assert.notEqual(other.port, proxy.port);
    await first.close({ stopInstances: true });

    const second = harness.runtime();
    await second.start();
    assert.equal(second.getProxy(STAGE)?.port, proxy.port, "reopened at start");
    assert.deepEqual(await second.ensureProxy(STAGE), proxy);
    await second.close({ stopInstances: true });
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }

  const withDefaults = await RuntimeHarness.create(appScript);
  try {
    const runtime = withDefaults.runtime({ portRange: undefined });
    await runtime.start();
    const { port } = await runtime.ensureProxy(STAGE);
    assert.ok(port >= 7400 && port <= 7999, `port ${port} is outside the default range`);
  } finally {
    assert.deepEqual(await withDefaults.finish(), []);
  }
});

/** A StageProxy in front of a server that speaks raw bytes, for answers no real app gives on purpose */
async function proxyOverRawUpstream(
  answer: (socket: Socket, request: string, connection: number) => void,
): Promise<{ proxy: StageProxy; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const upstream = createNetServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => answer(socket, chunk.toString("latin1"), connection));
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const port = (upstream.address() as AddressInfo).port;
  const proxy = new StageProxy(STAGE, { stable: "raw-1", candidate: null, candidateWeight: 0 }, () => ({
    version: "1",
    port,
  }));
  await proxy.listenOnFirstFree([22_000, 22_999], new Set());
  return {
    proxy,
    connections: () => connections,
    close: async () => {
      await proxy.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    },
  };
}

test("a request the app never saw goes again on a fresh connection; one with a body gets 502", async () => {
  // Every connection answers its first request and drops the next unanswered, as an app does
  // that closes an idle connection just as the proxy reuses it.
  const served = await proxyOverRawUpstream((socket, request) => {
    if (socket.bytesWritten > 0) socket.destroy();
    else if (request.includes("\r\n\r\n")) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const port = served.proxy.port;
    for (let index = 0; index < 3; index += 1) {
      const result = await httpRequest(port, "/", { agent });
      assert.deepEqual([result.status, result.body], [200, "ok"], `request ${index + 1}`);
    }
    assert.equal(served.connections(), 3, "each retry on a new connection");
    const upload = await httpRequest(port, "/", { agent, method: "POST", body: "payload" });
    assert.equal(upload.status, 502, "a body may have reached the app: not sent twice");
    assert.match(upload.body, /bad gateway: instance raw-1 did not answer/);
    assert.deepEqual(served.proxy.meter.snapshot(), { "raw-1": { requests: 4, errors: 1, inFlight: 0 } });
  } finally {
    agent.destroy();
    await served.close();
  }
});

test("HEAD, a body ending with the connection, and a malformed head each get their right answer", async () => {
  const served = await proxyOverRawUpstream((socket, request) => {
    if (request.startsWith("HEAD")) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
    else if (request.startsWith("GET /until-close")) socket.end("HTTP/1.1 200 OK\r\n\r\nto the end");
    else socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n");
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const port = served.proxy.port;
    const head = await httpRequest(port, "/", { agent, method: "HEAD" });
    assert.deepEqual([head.status, head.headers["content-length"], head.body], [200, "1000", ""]);
    const untilClose = await httpRequest(port, "/until-close", { agent });
    assert.deepEqual([untilClose.status, untilClose.body], [200, "to the end"]);
    const malformed = await httpRequest(port, "/", { agent });
    assert.equal(malformed.status, 502);
    assert.match(malformed.body, /not valid HTTP\/1\.1: both Content-Length and Transfer-Encoding/);
    assert.equal(served.connections(), 2, "the HEAD's connection carried the next request");
  } finally {
    agent.destroy();
    await served.close();
  }
});
