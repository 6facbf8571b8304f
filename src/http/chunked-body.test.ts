import assert from "node:assert/strict";
import { test } from "node:test";
import { ChunkedBodyReader } from "./chunked-body.js";

class Malformed extends Error {}

/** Feeds `wire` cut at `cut` (or whole) and returns the data handed on, where reading stopped, and whether the body ended */
function readAll(wire: string, cut?: number): { data: string; stoppedAt: number; done: boolean } {
  const reader = new ChunkedBodyReader((message) => new Malformed(message));
  const bytes = Buffer.from(wire, "latin1");
  const pieces = cut === undefined ? [bytes] : [bytes.subarray(0, cut), bytes.subarray(cut)];
  let data = "";
  let consumed = 0;
  for (const piece of pieces) {
    if (reader.done) break;
    const next = reader.read(piece, 0, (slice) => (data += slice.toString("latin1")));
    consumed += next;
  }
  return { data, stoppedAt: consumed, done: reader.done };
}

test("a chunked body is read whole however its bytes are cut, with extensions and trailers skipped", () => {
  const cases = [
    { name: "one chunk", wire: "5\r\nhello\r\n0\r\n\r\n", data: "hello" },
    { name: "two chunks, hex size", wire: "a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n", data: "0123456789abc" },
    { name: "an extension", wire: "3;name=value\r\nabc\r\n0\r\n\r\n", data: "abc" },
    { name: "trailer fields", wire: "3\r\nabc\r\n0\r\nx-sum: 1\r\nx-more: 2\r\n\r\n", data: "abc" },
    { name: "no data at all", wire: "0\r\n\r\n", data: "" },
  ];
  for (const { name, wire, data } of cases) {
    for (let cut = 0; cut <= wire.length; cut++) {
      const read = readAll(wire, cut);
      assert.equal(read.data, data, `${name}, cut at ${cut}`);
      assert.equal(read.done, true, `${name}, cut at ${cut}`);
    }
  }
});

test("reading stops where the body ends, so the bytes after it are the caller's", () => {
  const wire = "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
  const read = readAll(wire);
  assert.equal(read.data, "abc");
  assert.equal(read.stoppedAt, wire.indexOf("HTTP/1.1"));
});

test("bytes that break the coding are refused with the caller's own error, never guessed past", () => {
  const cases: [string, RegExp][] = [
    ["zz\r\nabc\r\n", /bad chunk size/],
    ["-1\r\n", /bad chunk size/],
    ["1234567890abc\r\n", /bad chunk size/],
    ["2\r\nokX\r\n", /not followed by CRLF/],
    [`${"1".repeat(9000)}`, /chunk line too long/],
  ];
  for (const [wire, message] of cases) {
    assert.throws(
      () => readAll(wire),
      (error: unknown) => error instanceof Malformed && message.test(error.message),
      wire.slice(0, 20),
    );
  }
});

test("a reader reset after a body reads the next one from the start", () => {
  const reader = new ChunkedBodyReader((message) => new Malformed(message));
  reader.read(Buffer.from("3\r\nab", "latin1"), 0, null);
  assert.equal(reader.done, false);
  reader.reset();
  let data = "";
  reader.read(
    Buffer.from("2\r\nhi\r\n0\r\n\r\n", "latin1"),
    0,
    (slice) => (data += slice.toString("latin1")),
  );
  assert.equal(data, "hi");
  assert.equal(reader.done, true);
});
