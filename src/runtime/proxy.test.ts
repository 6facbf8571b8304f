import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fixturesDir } from "../testing/paths.js";
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
