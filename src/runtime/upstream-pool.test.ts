import { test } from "node:test";
import assert from "node:assert/strict";
import { type AddressInfo, type Socket, connect, createServer } from "node:net";
import { LOOPBACK } from "./ports.js";
import { type UpstreamExchange, UpstreamPool } from "./upstream-pool.js";
import type { UpstreamResponseHead } from "./upstream-parser.js";

/**
 * A server speaking raw bytes: `answer` gets each request head as it arrives (one per read, as
 * these small requests come) with its connection's number, and writes what it likes.
 */
async function rawServer(
  answer: (socket: Socket, request: string, connection: number) => void,
): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => answer(socket, chunk.toString("latin1"), connection));
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Outcome {
  status?: number;
  body: string;
  error?: string;
  stale?: boolean;
}

function exchange(
  pool: UpstreamPool,
  port: number,
  head = "GET / HTTP/1.1\r\nhost: x\r\n\r\n",
): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { body: "" };
    const listener: UpstreamExchange = {
      onHead: (responseHead: UpstreamResponseHead) => (outcome.status = responseHead.status),
      onBody: (chunk) => (outcome.body += chunk.toString()),
      onEnd: (last) => {
        if (last !== undefined) outcome.body += last.toString();
        resolve(outcome);
      },
      onUpstreamError: (error, stale) => resolve({ ...outcome, error: error.message, stale }),
    };
    pool.request(port, listener, head, head.startsWith("HEAD"), false);
  });
}

const plainPool = (): UpstreamPool => new UpstreamPool((port) => connect({ host: LOOPBACK, port }));
const ok = (body: string, extra = ""): string =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

test("a connection carries the next request only after a complete response it may keep", async () => {
  const cases: Array<{ name: string; response: string; reused: boolean }> = [
    { name: "content-length", response: ok("hi"), reused: true },
    {
      name: "chunked",
      response: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
      reused: true,
    },
    { name: "Connection: close", response: ok("hi", "connection: close\r\n"), reused: false },
    {
      name: "HTTP/1.0 without keep-alive",
      response: "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nhi",
      reused: false,
    },
    { name: "bytes beyond the response", response: `${ok("hi")}junk`, reused: false },
  ];
  for (const { name, response, reused } of cases) {
    const server = await rawServer((socket) => socket.write(response));
    const pool = plainPool();
    try {
      for (let index = 0; index < 3; index += 1) {
        const outcome = await exchange(pool, server.port);
        assert.deepEqual(outcome, { status: 200, body: "hi" }, name);
        // Let a close from either side land before the next request.
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(server.connections(), reused ? 1 : 3, name);
    } finally {
      pool.close();
      await server.close();
    }
  }
});

test("a body that ends with the connection is whole, and that connection is not kept", async () => {
  const server = await rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\n\r\nall of it"));
  const pool = plainPool();
  try {
    assert.deepEqual(await exchange(pool, server.port), { status: 200, body: "all of it" });
    assert.equal(pool.idleCount(), 0);
  } finally {
    pool.close();
    await server.close();
  }
});

test("a failure says whether the request may have reached the app", async () => {
  // The first connection answers once, then drops its second request unanswered.
  const server = await rawServer((socket, _request, connection) => {
    if (connection === 1 && socket.bytesWritten === 0) socket.write(ok("one"));
    else if (connection === 1) socket.destroy();
    else socket.end("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\ncut");
  });
  const pool = plainPool();
  try {
    assert.deepEqual(await exchange(pool, server.port), { status: 200, body: "one" });
    const stale = await exchange(pool, server.port);
    assert.equal(stale.stale, true, "nothing arrived on a reused connection");
    assert.equal(stale.status, undefined);
    const cut = await exchange(pool, server.port);
    assert.equal(cut.stale, false, "a fresh connection is never stale");
    assert.equal(cut.status, 200);
    assert.match(cut.error ?? "", /closed the connection/);
  } finally {
    pool.close();
    await server.close();
  }
});

test("a malformed response fails its request and its connection", async () => {
  const server = await rawServer((socket) =>
    socket.write("HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nok"),
  );
  const pool = plainPool();
  try {
    const outcome = await exchange(pool, server.port);
    assert.match(outcome.error ?? "", /not valid HTTP\/1\.1: differing Content-Length/);
    assert.equal(pool.idleCount(), 0);
  } finally {
    pool.close();
    await server.close();
  }
});

test("a retired pool closes its idle connections and keeps none it finishes with", async () => {
  const server = await rawServer((socket) => socket.write(ok("hi")));
  const pool = plainPool();
  try {
    await exchange(pool, server.port);
    assert.equal(pool.idleCount(), 1);
    pool.retire();
    assert.equal(pool.idleCount(), 0);
    assert.deepEqual(
      await exchange(pool, server.port),
      { status: 200, body: "hi" },
      "a late request still answered",
    );
    assert.equal(pool.idleCount(), 0);
  } finally {
    pool.close();
    await server.close();
  }
});
