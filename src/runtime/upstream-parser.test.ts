import { test } from "node:test";
import assert from "node:assert/strict";
import {
  UpstreamProtocolError,
  UpstreamResponseParser,
  type UpstreamResponseHead,
} from "./upstream-parser.js";

interface Parsed {
  heads: UpstreamResponseHead[];
  body: string;
  ended: boolean;
  keepAlive: boolean;
  surplus: number;
}

/** Feeds `wire` in pieces cut at `cuts`, then (when `close`) the end of the connection. */
function parse(wire: string, cuts: number[], requestIsHead = false, close = false): Parsed {
  const result: Parsed = { heads: [], body: "", ended: false, keepAlive: false, surplus: 0 };
  const parser = new UpstreamResponseParser({
    onHead: (head) => result.heads.push(head),
    onBody: (chunk) => (result.body += chunk.toString("latin1")),
    onEnd: (last) => {
      assert.equal(result.ended, false, "ended once");
      result.ended = true;
      if (last !== undefined) result.body += last.toString("latin1");
    },
  });
  parser.expect(requestIsHead);
  const bytes = Buffer.from(wire, "latin1");
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > from) parser.push(bytes.subarray(from, cut));
    from = Math.max(from, cut);
  }
  if (close) parser.closed();
  result.keepAlive = parser.keepAlive;
  result.surplus = parser.surplus;
  return result;
}

/** Every way to cut the wire in two, and byte by byte */
function cutsOf(length: number): number[][] {
  const cuts = [[]] as number[][];
  for (let at = 1; at < length; at += 1) cuts.push([at]);
  cuts.push(Array.from({ length }, (_, index) => index + 1));
  return cuts;
}

const okHead = (status = 200, reason = "OK"): UpstreamResponseHead => ({ status, reason, rawHeaders: [] });

test("reads a response's head, body and end however the bytes are cut", () => {
  const cases: Array<{
    name: string;
    wire: string;
    head?: boolean;
    close?: boolean;
    expected: { status: number; reason: string; rawHeaders: string[]; body: string; keepAlive: boolean };
  }> = [
    {
      name: "content-length",
      wire: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
      expected: {
        ...okHead(),
        rawHeaders: ["Content-Type", "text/plain", "Content-Length", "5"],
        body: "hello",
        keepAlive: true,
      },
    },
    {
      name: "chunked, with an extension and a trailer",
      wire: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nx-t: 1\r\n\r\n",
      expected: {
        ...okHead(),
        rawHeaders: ["transfer-encoding", "chunked"],
        body: "hello, world",
        keepAlive: true,
      },
    },
    {
      name: "an interim 100 Continue before the final response",
      wire: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
      expected: {
        ...okHead(201, "Created"),
        rawHeaders: ["content-length", "2"],
        body: "ok",
        keepAlive: true,
      },
    },
    {
      name: "a body until the connection closes",
      wire: "HTTP/1.1 200 OK\r\nx-a: b\r\n\r\nuntil the end",
      close: true,
      expected: { ...okHead(), rawHeaders: ["x-a", "b"], body: "until the end", keepAlive: false },
    },
    {
      name: "HEAD: no body whatever Content-Length says",
      wire: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
      head: true,
      expected: { ...okHead(), rawHeaders: ["Content-Length", "1000"], body: "", keepAlive: true },
    },
    {
      name: "204 and Connection: close",
      wire: "HTTP/1.1 204 No Content\r\nConnection: Keep-Alive, Close\r\n\r\n",
      expected: {
        ...okHead(204, "No Content"),
        rawHeaders: ["Connection", "Keep-Alive, Close"],
        body: "",
        keepAlive: false,
      },
    },
    {
      name: "HTTP/1.0 keeps the connection only when asked, and a status line without a reason",
      wire: "HTTP/1.0 404\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n",
      expected: {
        ...okHead(404, ""),
        rawHeaders: ["connection", "keep-alive", "content-length", "0"],
        body: "",
        keepAlive: true,
      },
    },
    {
      name: "latin-1 bytes in a value pass through, spaces around it do not",
      wire: "HTTP/1.1 200 OK\r\nx-name:  caf\xe9 \t\r\ncontent-length: 0\r\n\r\n",
      expected: {
        ...okHead(),
        rawHeaders: ["x-name", "caf\xe9", "content-length", "0"],
        body: "",
        keepAlive: true,
      },
    },
  ];
  for (const { name, wire, head = false, close = false, expected } of cases) {
    for (const cuts of cutsOf(wire.length)) {
      const parsed = parse(wire, cuts, head, close);
      const { body, keepAlive, ...finalHead } = expected;
      assert.deepEqual(parsed.heads, [finalHead], `${name}, cut at ${cuts.join(",")}`);
      assert.equal(parsed.body, body, `${name}, cut at ${cuts.join(",")}`);
      assert.equal(parsed.ended, true, `${name} ends, cut at ${cuts.join(",")}`);
      assert.equal(parsed.keepAlive, keepAlive, name);
      assert.equal(parsed.surplus, 0, name);
    }
  }
});

test("counts bytes beyond the response, which no unpipelined server sends", () => {
  const parsed = parse("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", []);
  assert.equal(parsed.body, "ok");
  assert.equal(parsed.surplus, 17);
});

test("a body cut off before its end is not a complete response", () => {
  const cases = [
    "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "HTTP/1.1 200 OK\r\ncontent-len",
  ];
  for (const wire of cases) assert.equal(parse(wire, [], false, true).ended, false, wire);
});

test("refuses framing two readers could disagree on, and heads that are not HTTP/1.1", () => {
  const cases: Array<[string, RegExp]> = [
    ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok", /differing Content-Length/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n", /both Content-Length/],
    ["HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", /bad Content-Length/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 0x10\r\n\r\n", /bad Content-Length/],
    ["HTTP/1.1 200 OK\r\nx-a: b\r\n folded\r\n\r\n", /bad header line/],
    ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /bad header line/],
    ["HTTP/1.1 200 OK\r\nx-a: b\nx-smuggled: c\r\n\r\n", /control character/],
    ["HTTP/1.1 200 OK\r\nx-a: b\x00\r\n\r\n", /control character/],
    ["HTTP/2 200\r\n\r\n", /bad status line/],
    ["HTTP/1.1 20 OK\r\n\r\n", /bad status line/],
    ["HTTP/1.1 101 Switching Protocols\r\n\r\n", /101/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", /bad chunk size/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokX\r\n", /not followed by CRLF/],
  ];
  for (const [wire, message] of cases) {
    assert.throws(
      () => parse(wire, []),
      (error: unknown) => error instanceof UpstreamProtocolError && message.test(error.message),
      JSON.stringify(wire),
    );
  }
  assert.throws(
    () => parse(`HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(70_000)}`, []),
    /response head exceeds 65536 bytes/,
  );
});
