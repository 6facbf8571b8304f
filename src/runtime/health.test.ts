import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { getOnLoopback, nextProbeDelay, probeHealth, waitUntilHealthy } from "./health.js";
import type { ExitStatus } from "./instance-process.js";
import { listenOn } from "./ports.js";

describe("spacing the probes of a health wait", () => {
  const cases = [
    { waitedMs: 0, ceilingMs: 100, delayMs: 5 },
    { waitedMs: 50, ceilingMs: 100, delayMs: 10 },
    { waitedMs: 400, ceilingMs: 100, delayMs: 45 },
    { waitedMs: 950, ceilingMs: 100, delayMs: 100 },
    { waitedMs: 60_000, ceilingMs: 100, delayMs: 100 },
    { waitedMs: 1_500, ceilingMs: 200, delayMs: 155 },
    { waitedMs: -20, ceilingMs: 200, delayMs: 5 },
  ];
  for (const { waitedMs, ceilingMs, delayMs } of cases) {
    it(`waits ${delayMs} ms after ${waitedMs} ms of waiting, at most ${ceilingMs} ms`, () =>
      assert.equal(nextProbeDelay(waitedMs, ceilingMs), delayMs));
  }
});

describe("asking on the loopback", () => {
  let server: Server;
  let port = 0;
  const seenHeaders: Record<string, string | string[] | undefined>[] = [];

  before(async () => {
    server = createServer((request, response) => {
      seenHeaders.push(request.headers);
      if (request.url === "/healthz?deep=1") {
        response.writeHead(200, { "x-waybill-instance": "r-new" });
        response.end("ok\n");
        return;
      }
      response.writeHead(503);
      response.end("starting\n");
    });
    await listenOn(server, 0);
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((done) => server.close(() => done())));

  it("gives the status and the instance that answered, with the headers it was given", async () => {
    const answer = await getOnLoopback(port, "/healthz?deep=1", { "x-waybill-route": "candidate" }, 2_000);
    assert.deepEqual(answer, { status: 200, instance: "r-new" });
    assert.equal(seenHeaders.at(-1)?.["x-waybill-route"], "candidate");
  });

  it("gives a status that is no success as it is", async () =>
    assert.deepEqual(await getOnLoopback(port, "/", {}, 2_000), { status: 503, instance: undefined }));

  it("says so when nothing listens", async () => {
    const closed = createServer();
    await listenOn(closed, 0);
    const freed = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    assert.deepEqual(await getOnLoopback(freed, "/", {}, 2_000), { detail: "connection refused" });
  });

  it("calls only 2xx and 3xx healthy", async () => {
    assert.deepEqual(await probeHealth(port, "/healthz?deep=1", 2_000), { healthy: true });
    assert.deepEqual(await probeHealth(port, "/", 2_000), { healthy: false, detail: "HTTP 503" });
  });

  it("fails closed when the app never turns healthy, with what it last said", async () => {
    const never = new Promise<ExitStatus>(() => undefined);
    const wait = await waitUntilHealthy({ port, path: "/", timeoutMs: 300, exited: never });
    assert.deepEqual(wait, { healthy: false, reason: "timeout", detail: "HTTP 503" });
  });
});
