import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError, ResponseParser } from "./response-parser.js";

interface Outcome {
  complete: boolean;
  status: number;
  keepAlive: boolean;
  surplusBytes: number;
}

/** Feeds the response in pieces of `pieceSize` bytes and reports where it stood at the end */
function parse(response: string, pieceSize: number, requestWasHead = false): Outcome {
  const parser = new ResponseParser();
  parser.reset(requestWasHead);
  const bytes = Buffer.from(response, "latin1");
  let complete = false;
  for (let offset = 0; offset < bytes.length; offset += pieceSize) {
    // Copy each piece into a reused buffer, as the socket does, so kept references would show.
    const scratch = Buffer.alloc(pieceSize, 0x5a);
    const piece = bytes.subarray(offset, offset + pieceSize);
    piece.copy(scratch);
    complete = parser.push(scratch.subarray(0, piece.length));
    scratch.fill(0x5a);
  }
  return { complete, status: parser.status, keepAlive: parser.keepAlive, surplusBytes: parser.surplusBytes };
}

/** Every way of cutting a response into pieces must give the same answer */
function parseEverySplit(response: string, requestWasHead = false): Outcome {
  const whole = parse(response, response.length, requestWasHead);
  for (let pieceSize = 1; pieceSize < response.length; pieceSize++) {
    assert.deepEqual(parse(response, pieceSize, requestWasHead), whole, `pieces of ${pieceSize} bytes`);
  }
  return whole;
}

describe("HTTP response parser", () => {
  it("reads a Content-Length body however the bytes are split", () => {
    const outcome = parseEverySplit(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert.deepEqual(outcome, { complete: true, status: 200, keepAlive: true, surplusBytes: 0 });
  });

  it("waits for the rest of a Content-Length body", () => {
    assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 100).complete, false);
  });

  it("reads a chunked body with extensions and trailers however the bytes are split", () => {
    const response =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Checksum: 1\r\n\r\n";
    assert.deepEqual(parseEverySplit(response), {
      complete: true,
      status: 201,
      keepAlive: true,
      surplusBytes: 0,
    });
  });

  it("does not finish a chunked body before the last chunk", () => {
    const response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    assert.equal(parse(response, 7).complete, false);
  });

  it("takes a HEAD response, 204 and 304 as bodiless whatever Content-Length says", () => {
    assert.equal(parseEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true).complete, true);
    assert.equal(parseEverySplit("HTTP/1.1 204 No Content\r\n\r\n").status, 204);
    assert.equal(parseEverySplit("HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n").complete, true);
  });

  it("skips an interim 100 Continue and reads the final response", () => {
    const outcome = parseEverySplit(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert.deepEqual(outcome, { complete: true, status: 200, keepAlive: true, surplusBytes: 0 });
  });

  it("knows when the server will close the connection", () => {
    assert.equal(
      parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 100).keepAlive,
      false,
    );
    assert.equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 100).keepAlive, false);
    assert.equal(
      parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 100).keepAlive,
      true,
    );
  });

  it("ends a body without length or chunking at the end of the stream", () => {
    const parser = new ResponseParser();
    parser.reset(false);
    assert.equal(parser.push(Buffer.from("HTTP/1.1 200 OK\r\n\r\nstreamed until close")), false);
    assert.equal(parser.keepAlive, false);
    assert.equal(parser.endOfStream(), true);
  });

  it("does not take a stream cut off mid-body as a response", () => {
    const parser = new ResponseParser();
    parser.reset(false);
    parser.push(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    assert.equal(parser.endOfStream(), false);
  });

  it("counts bytes that arrive after a complete response", () => {
    assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 100).surplusBytes, 5);
  });

  it("rejects what is not an HTTP/1.x response", () => {
    const malformed = [
      "SSH-2.0-OpenSSH_9.2\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX",
    ];
    for (const response of malformed) {
      assert.throws(() => parse(response, 100), ProtocolError, response);
    }
  });

  it("reads field names in any case, the first of each field, and values with odd spacing", () => {
    const cases: Array<{ response: string; outcome: Partial<Outcome> }> = [
      {
        response: "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh:2\r\ncONNECTION: CLOSE\r\n\r\nok",
        outcome: { complete: true, keepAlive: false },
      },
      {
        response: "HTTP/1.1 200 OK\r\nContent-Length: \t2 \t\r\nContent-Length: 9\r\n\r\nok",
        outcome: { complete: true, surplusBytes: 0 },
      },
      // String.prototype.trim also drops a no-break space; the byte path leaves such a value to it.
      { response: "HTTP/1.1 200 OK\r\nContent-Length: 2\xa0\r\n\r\nok", outcome: { complete: true } },
      {
        response: "HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 0\r\n\r\n",
        outcome: { keepAlive: false },
      },
      {
        response: "HTTP/1.1 200 OK\r\nX-Connection: close\r\nContent-Length : 5\r\nContent-Length: 0\r\n\r\n",
        outcome: { complete: true, keepAlive: true },
      },
      {
        response: "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: gzip, Chunked\r\n\r\n0\r\n\r\n",
        outcome: { complete: true, status: 200 },
      },
      { response: "HTTP/1.1 204\r\n\r\n", outcome: { complete: true, status: 204 } },
      // A CR inside a name is not the "-" of Content-Length: no length, so the body runs to the close.
      {
        response: "HTTP/1.1 200 OK\r\nContent\rLength: 2\r\n\r\nok",
        outcome: { complete: false, keepAlive: false },
      },
    ];
    for (const { response, outcome } of cases) {
      const whole = parseEverySplit(response);
      assert.deepEqual({ ...whole, ...outcome }, whole, JSON.stringify(response));
    }
    for (const response of [
      "http/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 200\tOK\r\n\r\n",
      "HTTP/1.2 200 OK\r\n\r\n",
    ]) {
      assert.throws(() => parse(response, 100), ProtocolError, JSON.stringify(response));
    }
  });

  it("rejects a response head that never ends", () => {
    const parser = new ResponseParser();
    parser.reset(false);
    parser.push(Buffer.from("HTTP/1.1 200 OK\r\n"));
    const header = Buffer.from(`X-Filler: ${"a".repeat(1000)}\r\n`);
    assert.throws(() => {
      for (let i = 0; i < 100; i++) parser.push(header);
    }, ProtocolError);
  });
});
