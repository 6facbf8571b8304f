import { after, before, test } from "node:test";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { Agent, request } from "node:https";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import { MeshCa, type IssuedCertificate } from "./ca.js";
import { peerProblem, uriSans, type MeshIdentity } from "./identity.js";
import { startTerminator, type Terminator } from "./terminator.js";

const DOMAIN = "waybill-terminator-test.local";
const STAGE = { trustDomain: DOMAIN, service: "hello", stage: "staging" };
const PROXY: MeshIdentity = { ...STAGE, role: "proxy" };
const INSTANCE: MeshIdentity = { ...STAGE, role: "instance", instanceId: "web-1" };
const UPSTREAM_ANSWER = "hello from upstream";
const REQUEST_TIMEOUT_MS = 5_000;
const TEST_TIMEOUT_MS = 60_000;

const scratch = mkdtempSync(join(tmpdir(), "waybill-terminator-"));
let ca: MeshCa;
let strangerCa: MeshCa;
let proxyCert: IssuedCertificate;

before(async () => {
  ca = await MeshCa.open(join(scratch, "keys"), DOMAIN);
  strangerCa = await MeshCa.open(join(scratch, "stranger-keys"), DOMAIN);
  proxyCert = await ca.issue(PROXY);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

interface ClientCredentials {
  cert?: string;
  key?: string;
  ca: string;
}

interface Answer {
  status: number;
  body: string;
  /** The serial of the certificate the terminator presented on this connection */
  serverSerial: string;
  reusedSocket: boolean;
  sessionReused: boolean;
}

/** The stage proxy's side: the instance must present a certificate naming an instance of this stage. */
function checkInstanceIdentity(_host: string, certificate: PeerCertificate): Error | undefined {
  const problem = peerProblem(uriSans(certificate.subjectaltname), { ...STAGE, role: "instance" });
  return problem === null ? undefined : new Error(problem);
}

function proxyCredentials(): ClientCredentials {
  return { cert: proxyCert.certPem, key: proxyCert.keyPem, ca: ca.caPem };
}

function meshAgent(credentials: ClientCredentials, keepAlive: boolean): Agent {
  return new Agent({
    keepAlive,
    maxSockets: 1,
    ...credentials,
    minVersion: "TLSv1.3",
    checkServerIdentity: checkInstanceIdentity,
  });
}

function get(port: number, how: { agent: Agent } | { oneOff: ClientCredentials }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        timeout: REQUEST_TIMEOUT_MS,
        checkServerIdentity: checkInstanceIdentity,
        ...("agent" in how ? { agent: how.agent } : { agent: false, ...how.oneOff }),
      },
      (response) => {
        const socket = response.socket as TLSSocket;
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("error", reject);
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            body,
            // Not getPeerX509Certificate(): on a client socket in Node 20 it takes the certificate
            // out of the connection, and the next call on a kept-alive socket finds none.
            serverSerial: socket.getPeerCertificate().serialNumber,
            reusedSocket: outgoing.reusedSocket,
            sessionReused: socket.isSessionReused(),
          }),
        );
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error("the request timed out")));
    outgoing.on("error", reject);
    outgoing.end();
  });
}

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + REQUEST_TIMEOUT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Replaces each file whole, the key before the certificate, as the control plane does */
function writeInstanceFiles(dir: string, issued: IssuedCertificate): void {
  const files: [string, string][] = [
    ["ca.pem", ca.caPem],
    ["key.pem", issued.keyPem],
    ["cert.pem", issued.certPem],
  ];
  for (const [name, content] of files) {
    writeFileSync(join(dir, `${name}.tmp`), content, { mode: 0o600 });
    renameSync(join(dir, `${name}.tmp`), join(dir, name));
  }
}

interface Setup {
  terminator: Terminator;
  instanceDir: string;
  /** TCP connections the app has accepted */
  upstreamConnections(): number;
  /** The app's TCP connections not yet closed */
  openUpstreamConnections(): number;
  refusals: string[];
  close(): Promise<void>;
}

let setups = 0;

async function setUp(): Promise<Setup> {
  let upstreamConnections = 0;
  let openUpstreamConnections = 0;
  const upstream: Server = createServer((_request, response) => response.end(UPSTREAM_ANSWER));
  upstream.on("connection", (socket: Socket) => {
    upstreamConnections++;
    openUpstreamConnections++;
    socket.on("close", () => openUpstreamConnections--);
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const upstreamAddress = upstream.address();
  assert.ok(upstreamAddress !== null && typeof upstreamAddress === "object");

  const instanceDir = join(scratch, `instance-${++setups}`);
  mkdirSync(instanceDir);
  writeInstanceFiles(instanceDir, await ca.issue(INSTANCE));
  const refusals: string[] = [];
  const terminator = await startTerminator({
    host: "127.0.0.1",
    port: 0,
    upstreamPort: upstreamAddress.port,
    certFile: join(instanceDir, "cert.pem"),
    keyFile: join(instanceDir, "key.pem"),
    caFile: join(instanceDir, "ca.pem"),
    allowedPeer: { ...STAGE, role: "proxy" },
    onRefused: (reason) => refusals.push(reason),
  });
  return {
    terminator,
    instanceDir,
    upstreamConnections: () => upstreamConnections,
    openUpstreamConnections: () => openUpstreamConnections,
    refusals,
    async close() {
      await terminator.close();
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    },
  };
}

async function withSetUp(run: (setup: Setup) => Promise<void>): Promise<void> {
  const setup = await setUp();
  try {
    await run(setup);
  } finally {
    await setup.close();
  }
}

test(
  "the stage's proxy certificate gets the app's answer over mutual TLS",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator, upstreamConnections }) => {
      const answer = await get(terminator.port, { oneOff: proxyCredentials() });
      assert.equal(answer.status, 200);
      assert.equal(answer.body, UPSTREAM_ANSWER);
      assert.equal(upstreamConnections(), 1);
      assert.deepEqual(terminator.stats(), { connections: 1, refused: 0 });
    }),
);

test(
  "a client without a certificate is refused in the handshake and never reaches the app",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator, upstreamConnections, refusals }) => {
      await assert.rejects(get(terminator.port, { oneOff: { ca: ca.caPem } }));
      await waitFor("the refusal is counted", () => terminator.stats().refused === 1);
      assert.deepEqual(refusals, ["the TLS handshake failed: peer did not return a certificate"]);
      assert.equal(upstreamConnections(), 0);
      assert.equal(terminator.stats().connections, 0);
    }),
);

test("a certificate of another stage from the same CA is refused", { timeout: TEST_TIMEOUT_MS }, () =>
  withSetUp(async ({ terminator, upstreamConnections, refusals }) => {
    const production = await ca.issue({ ...PROXY, stage: "production" });
    await assert.rejects(
      get(terminator.port, { oneOff: { cert: production.certPem, key: production.keyPem, ca: ca.caPem } }),
    );
    await waitFor("the refusal is counted", () => terminator.stats().refused === 1);
    assert.deepEqual(refusals, ["the peer's certificate names stage production, not staging"]);
    assert.equal(upstreamConnections(), 0);
  }),
);

test(
  "an instance's certificate of the same stage is refused where the proxy is expected",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator, upstreamConnections, refusals }) => {
      const sibling = await ca.issue({ ...INSTANCE, instanceId: "web-2" });
      await assert.rejects(
        get(terminator.port, { oneOff: { cert: sibling.certPem, key: sibling.keyPem, ca: ca.caPem } }),
      );
      await waitFor("the refusal is counted", () => terminator.stats().refused === 1);
      assert.deepEqual(refusals, ["the peer's certificate names role instance, not proxy"]);
      assert.equal(upstreamConnections(), 0);
    }),
);

test("a certificate from another CA is refused in the handshake", { timeout: TEST_TIMEOUT_MS }, () =>
  withSetUp(async ({ terminator, upstreamConnections, refusals }) => {
    const stranger = await strangerCa.issue(PROXY);
    await assert.rejects(
      get(terminator.port, { oneOff: { cert: stranger.certPem, key: stranger.keyPem, ca: ca.caPem } }),
    );
    await waitFor("the refusal is counted", () => terminator.stats().refused === 1);
    assert.deepEqual(refusals, ["the peer's certificate did not verify: UNABLE_TO_VERIFY_LEAF_SIGNATURE"]);
    assert.equal(upstreamConnections(), 0);
  }),
);

test(
  "nothing plain is spoken on the terminator's port: a plain HTTP request gets no HTTP answer",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator, upstreamConnections }) => {
      const received = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = connect({ host: "127.0.0.1", port: terminator.port });
        socket.setTimeout(REQUEST_TIMEOUT_MS, () =>
          socket.destroy(new Error("the terminator neither answered nor closed")),
        );
        socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.on("error", (error: NodeJS.ErrnoException) =>
          error.code === "ECONNRESET" ? undefined : reject(error),
        );
        socket.on("close", () => resolve(Buffer.concat(chunks)));
      });
      assert.ok(!received.toString("latin1").includes("HTTP/"), "no HTTP answer");
      assert.ok(received.length === 0 || received[0] === 0x15, "closed, or a TLS alert record");
      assert.equal(upstreamConnections(), 0);
    }),
);

test(
  "a client that half-closes after its request still gets the whole answer",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator }) => {
      const received = await new Promise<string>((resolve, reject) => {
        let text = "";
        const socket = tlsConnect({
          host: "127.0.0.1",
          port: terminator.port,
          ...proxyCredentials(),
          checkServerIdentity: checkInstanceIdentity,
        });
        socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error("no answer")));
        socket.on("secureConnect", () =>
          socket.end("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        );
        socket.setEncoding("utf8");
        socket.on("data", (chunk: string) => (text += chunk));
        socket.on("error", reject);
        socket.on("end", () => resolve(text));
      });
      assert.match(received, /^HTTP\/1\.1 200 /);
      assert.ok(received.endsWith(UPSTREAM_ANSWER), received);
    }),
);

test(
  "rotation: new connections get the new certificate while an open kept-alive connection keeps working, and no request fails",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator, instanceDir }) => {
      const kept = meshAgent(proxyCredentials(), true);
      const failures: unknown[] = [];
      const keptSerials = new Set<string>();
      const freshSerials: string[] = [];
      let requests = 0;
      let rotated = false;
      let requestsAfterRotation = 0;
      try {
        const firstAnswer = await get(terminator.port, { agent: kept });
        const oldSerial = firstAnswer.serverSerial;
        const loop = (async () => {
          while (requestsAfterRotation < 20) {
            const afterRotation = rotated;
            const [onKept, onFresh] = await Promise.allSettled([
              get(terminator.port, { agent: kept }),
              get(terminator.port, { oneOff: proxyCredentials() }),
            ]);
            requests++;
            for (const outcome of [onKept, onFresh]) {
              if (outcome.status === "rejected") failures.push(outcome.reason);
            }
            if (onKept.status === "fulfilled") {
              keptSerials.add(onKept.value.serverSerial);
              if (!onKept.value.reusedSocket)
                failures.push(new Error("the kept-alive connection was not reused"));
            }
            if (onFresh.status === "fulfilled" && afterRotation)
              freshSerials.push(onFresh.value.serverSerial);
            if (afterRotation) requestsAfterRotation++;
            await new Promise((resolve) => setTimeout(resolve, 3));
          }
        })();

        await waitFor("some requests have gone through", () => requests >= 10);
        const renewed = await ca.issue(INSTANCE);
        writeInstanceFiles(instanceDir, renewed);
        await terminator.reload();
        rotated = true;
        await loop;

        assert.deepEqual(failures, []);
        assert.deepEqual(
          [...keptSerials],
          [oldSerial],
          "the open connection keeps the certificate it began with",
        );
        const newSerial = (await get(terminator.port, { oneOff: proxyCredentials() })).serverSerial;
        assert.notEqual(newSerial, oldSerial);
        assert.ok(freshSerials.length >= 20);
        assert.ok(
          freshSerials.every((serial) => serial === newSerial),
          "every connection begun after the reload sees the new certificate",
        );
      } finally {
        kept.destroy();
      }
    }),
);

test("a reload that cannot read its files keeps the running certificate", { timeout: TEST_TIMEOUT_MS }, () =>
  withSetUp(async ({ terminator, instanceDir }) => {
    const before = await get(terminator.port, { oneOff: proxyCredentials() });
    const mismatched = await ca.issue(INSTANCE);
    writeFileSync(join(instanceDir, "key.pem"), mismatched.keyPem);
    await assert.rejects(terminator.reload());
    rmSync(join(instanceDir, "cert.pem"));
    await assert.rejects(terminator.reload(), /ENOENT/);
    const after = await get(terminator.port, { oneOff: proxyCredentials() });
    assert.equal(after.serverSerial, before.serverSerial);
    assert.equal(after.body, UPSTREAM_ANSWER);
  }),
);

test(
  "TLS session resumption: a second connection resumes the first's session, also across a reload",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator, instanceDir }) => {
      const agent = meshAgent(proxyCredentials(), false);
      try {
        const first = await get(terminator.port, { agent });
        assert.equal(first.sessionReused, false);
        const second = await get(terminator.port, { agent });
        assert.equal(second.reusedSocket, false, "a new connection");
        assert.equal(second.sessionReused, true, "with the cached session");
        assert.equal(second.body, UPSTREAM_ANSWER, "the resumed peer still passes the identity check");

        writeInstanceFiles(instanceDir, await ca.issue(INSTANCE));
        await terminator.reload();
        const third = await get(terminator.port, { agent });
        assert.equal(third.sessionReused, true, "the session tickets outlive a certificate rotation");
        assert.equal(third.body, UPSTREAM_ANSWER);
        assert.deepEqual(terminator.stats(), { connections: 3, refused: 0 });
      } finally {
        agent.destroy();
      }
    }),
);

/** A TLS connection to the terminator as the stage's proxy, with nothing on it yet */
function proxyConnection(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      ...proxyCredentials(),
      checkServerIdentity: checkInstanceIdentity,
    });
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

test(
  "large answers on several connections at once, read slowly, arrive whole and each on its own connection",
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const BODY_BYTES = 4 * 1024 * 1024;
    const bodyOf = (path: string): Buffer => {
      const seed = createHash("sha256").update(path).digest();
      const body = Buffer.alloc(BODY_BYTES);
      for (let offset = 0; offset < BODY_BYTES; offset += seed.length) seed.copy(body, offset);
      return body;
    };
    const app = createServer((incoming, response) => {
      response.setHeader("content-length", BODY_BYTES);
      response.end(bodyOf(incoming.url ?? ""));
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const appAddress = app.address();
    assert.ok(appAddress !== null && typeof appAddress === "object");
    const instanceDir = join(scratch, `instance-large-${++setups}`);
    mkdirSync(instanceDir);
    writeInstanceFiles(instanceDir, await ca.issue(INSTANCE));
    const terminator = await startTerminator({
      host: "127.0.0.1",
      port: 0,
      upstreamPort: appAddress.port,
      certFile: join(instanceDir, "cert.pem"),
      keyFile: join(instanceDir, "key.pem"),
      caFile: join(instanceDir, "ca.pem"),
      allowedPeer: { ...STAGE, role: "proxy" },
    });
    try {
      const fetchSlowly = async (path: string): Promise<Buffer> => {
        const socket = await proxyConnection(terminator.port);
        return new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          socket.setTimeout(REQUEST_TIMEOUT_MS * 4, () => socket.destroy(new Error("no answer")));
          socket.on("data", (chunk: Buffer) => {
            chunks.push(chunk);
            // A reader slower than the app, so the terminator's queue towards it fills up
            socket.pause();
            setTimeout(() => socket.resume(), 1);
          });
          socket.on("error", reject);
          socket.on("end", () => resolve(Buffer.concat(chunks)));
          socket.end(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        });
      };
      const paths = ["/a", "/b", "/c"];
      const answers = await Promise.all(paths.map(fetchSlowly));
      for (const [index, answer] of answers.entries()) {
        const path = paths[index] ?? "";
        const headEnd = answer.indexOf("\r\n\r\n");
        assert.ok(headEnd > 0, `an HTTP answer for ${path}`);
        const body = answer.subarray(headEnd + 4);
        assert.equal(body.length, BODY_BYTES, `the whole body for ${path}`);
        assert.ok(body.equals(bodyOf(path)), `the body of ${path}, unmixed`);
      }
    } finally {
      await terminator.close();
      app.closeAllConnections();
      await new Promise((resolve) => app.close(resolve));
    }
  },
);

test(
  "when the proxy's connection goes, the terminator's connection to the app goes too",
  { timeout: TEST_TIMEOUT_MS },
  () =>
    withSetUp(async ({ terminator, upstreamConnections, openUpstreamConnections }) => {
      const socket = await proxyConnection(terminator.port);
      const answered = new Promise<void>((resolve) => socket.once("data", () => resolve()));
      socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      await answered;
      assert.equal(upstreamConnections(), 1);
      socket.destroy();
      await waitFor("the app's side is closed", () => openUpstreamConnections() === 0);
    }),
);
