import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../errors.js";
import { prepareRequests, seededRandom, weightedPicker } from "./request-mix.js";
import type { LoadRequest } from "./types.js";

describe("request mix", () => {
  it("serialises a request once with Host, headers, Content-Length and body", () => {
    const [prepared] = prepareRequests(
      [{ method: "post", path: "/orders?x=1", headers: { "X-Trace": "abc" }, body: '{"n":"é"}' }],
      "127.0.0.1:8080",
    );
    assert.equal(prepared?.endpoint, "POST /orders?x=1");
    assert.equal(
      prepared?.bytes.toString("utf8"),
      'POST /orders?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Trace: abc\r\nContent-Length: 10\r\n\r\n{"n":"é"}',
    );
  });

  it("keeps a Host header the user gave and sends a bodiless GET without Content-Length", () => {
    const [prepared] = prepareRequests(
      [{ method: "GET", path: "/", headers: { host: "example.test" } }],
      "ignored",
    );
    assert.equal(prepared?.bytes.toString("latin1"), "GET / HTTP/1.1\r\nhost: example.test\r\n\r\n");
  });

  it("gives requests with the same method and path one endpoint", () => {
    const prepared = prepareRequests(
      [
        { method: "GET", path: "/a" },
        { method: "GET", path: "/a", headers: { Accept: "text/html" } },
        { method: "POST", path: "/a" },
      ],
      "h",
    );
    assert.deepEqual(
      prepared.map((request) => [request.endpoint, request.endpointIndex]),
      [
        ["GET /a", 0],
        ["GET /a", 0],
        ["POST /a", 1],
      ],
    );
  });

  it("refuses requests that could smuggle extra headers or requests", () => {
    const bad: LoadRequest[] = [
      { method: "GET", path: "/a b" },
      { method: "GET", path: "no-slash" },
      { method: "G T", path: "/" },
      { method: "GET", path: "/", headers: { "X-A": "1\r\nX-B: 2" } },
      { method: "GET", path: "/", headers: { "Bad Name": "1" } },
      { method: "POST", path: "/", headers: { "Content-Length": "5" } },
    ];
    for (const request of bad) {
      assert.throws(() => prepareRequests([request], "h"), UserError, JSON.stringify(request));
    }
  });

  it("splits picks by weight and repeats them for the same seed", () => {
    const pick = weightedPicker([3, 1], seededRandom(42));
    const picks = Array.from({ length: 10_000 }, () => pick());
    const firstShare = picks.filter((index) => index === 0).length / picks.length;
    assert.ok(Math.abs(firstShare - 0.75) < 0.02, `share of the weight-3 request: ${firstShare}`);

    const again = weightedPicker([3, 1], seededRandom(42));
    assert.deepEqual(
      Array.from({ length: 10_000 }, () => again()),
      picks,
    );
  });

  it("refuses a weight that is not a positive number", () => {
    assert.throws(() => weightedPicker([1, 0], seededRandom(1)), UserError);
    assert.throws(() => weightedPicker([Number.NaN], seededRandom(1)), UserError);
  });
});
