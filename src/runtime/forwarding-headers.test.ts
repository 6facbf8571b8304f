import { test } from "node:test";
import assert from "node:assert/strict";
import {
  downstreamResponseHeaders,
  readRequestHead,
  upstreamRequestHeaders,
  withoutHopByHop,
} from "./forwarding-headers.js";

test("hop-by-hop headers and headers named in Connection are dropped, whatever their case", () => {
  const headers = withoutHopByHop([
    ...["Connection", "keep-alive, X-Session-Hint"],
    ...["Keep-Alive", "timeout=5"],
    ...["x-session-hint", "abc"],
    ...["TE", "trailers"],
    ...["upgrade", "websocket"],
    ...["Proxy-Authorization", "Basic x"],
    ...["Content-Type", "text/plain"],
    ...["set-cookie", "a=1"],
    ...["set-cookie", "b=2"],
  ]);
  assert.deepEqual(headers, ["Content-Type", "text/plain", "set-cookie", "a=1", "set-cookie", "b=2"]);
});

test("upstream requests carry x-forwarded-for and x-forwarded-proto", () => {
  const cases: Array<{ raw: string[]; expected: string[] }> = [
    {
      raw: ["Host", "a"],
      expected: ["Host", "a", "x-forwarded-for", "127.0.0.1", "x-forwarded-proto", "http"],
    },
    {
      raw: ["host", "a", "X-Forwarded-For", "10.0.0.1", "X-Forwarded-Proto", "https"],
      expected: ["host", "a", "x-forwarded-for", "10.0.0.1, 127.0.0.1", "x-forwarded-proto", "https"],
    },
    {
      // Repeated lines are joined as one list, in order, before this hop is added.
      raw: ["host", "a", "x-forwarded-for", "10.0.0.1", "x-forwarded-for", "10.0.0.2"],
      expected: [
        "host",
        "a",
        "x-forwarded-for",
        "10.0.0.1, 10.0.0.2, 127.0.0.1",
        "x-forwarded-proto",
        "http",
      ],
    },
    {
      // HTTP/1.0 without Host: the upstream's HTTP/1.1 needs one.
      raw: ["accept", "*/*"],
      expected: [
        "accept",
        "*/*",
        "host",
        "127.0.0.1:4000",
        "x-forwarded-for",
        "127.0.0.1",
        "x-forwarded-proto",
        "http",
      ],
    },
  ];
  for (const { raw, expected } of cases) {
    assert.deepEqual(upstreamRequestHeaders(raw, "127.0.0.1", "127.0.0.1:4000"), expected);
  }
});

test("a streamed request body keeps its transfer coding upstream", () => {
  const headers = upstreamRequestHeaders(
    ["host", "a", "Transfer-Encoding", "gzip, chunked"],
    "127.0.0.1",
    "x",
  );
  assert.deepEqual(headers.slice(-2), ["transfer-encoding", "gzip, chunked"]);
});

test("responses name the instance that served them, never the one the app claims", () => {
  const cases: Array<{ raw: string[]; expected: string[] }> = [
    {
      raw: ["content-length", "2", "Connection", "close"],
      expected: ["content-length", "2", "x-waybill-instance", "run1-blue"],
    },
    {
      raw: ["X-Waybill-Instance", "forged", "content-length", "2"],
      expected: ["content-length", "2", "x-waybill-instance", "run1-blue"],
    },
  ];
  for (const { raw, expected } of cases)
    assert.deepEqual(downstreamResponseHeaders(raw, "run1-blue"), expected);
});

test("a request's head says its pin, its transport and whether a body follows", () => {
  const cases: Array<{ raw: string[]; expected: ReturnType<typeof readRequestHead> }> = [
    {
      raw: ["host", "a"],
      expected: { routePin: undefined, transport: undefined, hasBody: false, chunked: false },
    },
    {
      raw: ["X-Waybill-Route", "candidate", "x-waybill-route", "stable", "X-Waybill-Transport", "plain"],
      expected: { routePin: "candidate", transport: "plain", hasBody: false, chunked: false },
    },
    {
      // Other names, some as long as the ones it reads, change nothing.
      raw: [
        "Accept-Encoding",
        "gzip",
        "User-Agent",
        "wrk",
        "X-WAYBILL-ROUTE",
        "Candidate",
        "Accept-Charset",
        "utf-8",
        "If-Modified-Since",
        "Thu, 03 Dec 2026 10:00:00 GMT",
        "Proxy-Authorization",
        "Basic eA==",
      ],
      expected: { routePin: "Candidate", transport: undefined, hasBody: false, chunked: false },
    },
    {
      raw: ["Content-Length", "0"],
      expected: { routePin: undefined, transport: undefined, hasBody: false, chunked: false },
    },
    {
      raw: ["Content-Length", "12"],
      expected: { routePin: undefined, transport: undefined, hasBody: true, chunked: false },
    },
    {
      raw: ["transfer-encoding", "chunked"],
      expected: { routePin: undefined, transport: undefined, hasBody: true, chunked: true },
    },
  ];
  for (const { raw, expected } of cases) assert.deepEqual(readRequestHead(raw), expected, raw.join(" "));
});
