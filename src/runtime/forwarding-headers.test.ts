import { test } from "node:test";
import assert from "node:assert/strict";
import { downstreamResponseHeaders, upstreamRequestHeaders, withoutHopByHop } from "./forwarding-headers.js";

test("hop-by-hop headers and headers named in Connection are dropped", () => {
  const headers = withoutHopByHop({
    connection: "keep-alive, X-Session-Hint",
    "keep-alive": "timeout=5",
    "x-session-hint": "abc",
    te: "trailers",
    upgrade: "websocket",
    "proxy-authorization": "Basic x",
    "content-type": "text/plain",
    "set-cookie": ["a=1", "b=2"],
  });
  assert.deepEqual(headers, { "content-type": "text/plain", "set-cookie": ["a=1", "b=2"] });
});

test("upstream requests carry x-forwarded-for and x-forwarded-proto", () => {
  assert.deepEqual(upstreamRequestHeaders({ host: "a" }, "127.0.0.1"), {
    host: "a",
    "x-forwarded-for": "127.0.0.1",
    "x-forwarded-proto": "http",
  });
  assert.deepEqual(
    upstreamRequestHeaders({ "x-forwarded-for": "10.0.0.1", "x-forwarded-proto": "https" }, "127.0.0.1"),
    { "x-forwarded-for": "10.0.0.1, 127.0.0.1", "x-forwarded-proto": "https" },
  );
});

test("a streamed request body keeps its transfer coding upstream", () => {
  const headers = upstreamRequestHeaders({ "transfer-encoding": "gzip, chunked" }, "127.0.0.1");
  assert.equal(headers["transfer-encoding"], "gzip, chunked");
});

test("responses name the instance that served them", () => {
  assert.deepEqual(downstreamResponseHeaders({ "content-length": "2", connection: "close" }, "run1-blue"), {
    "content-length": "2",
    "x-waybill-instance": "run1-blue",
  });
});
