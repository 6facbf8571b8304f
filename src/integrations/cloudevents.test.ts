import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CloudEvent, HTTP } from "cloudevents";
import { UserError } from "../errors.js";
import { parseCloudEvent, structuredForm, type HttpMessage } from "./cloudevents.js";

const binaryHeaders = { "ce-specversion": "1.0", "ce-id": "e1", "ce-source": "/ci", "ce-type": "t" };
const message = (headers: Record<string, string>, body: string | Buffer = ""): HttpMessage => ({
  headers,
  body: Buffer.isBuffer(body) ? body : Buffer.from(body),
});

describe("reading CloudEvents from HTTP", () => {
  const accepted: [what: string, input: HttpMessage, expected: Record<string, unknown>][] = [
    [
      "binary mode, JSON data",
      message({ ...binaryHeaders, "content-type": "application/json" }, '{"a":1}'),
      {
        id: "e1",
        source: "/ci",
        type: "t",
        datacontenttype: "application/json",
        data: { a: 1 },
        mode: "binary",
      },
    ],
    [
      "binary mode, percent-encoded header values and an extension",
      message({ ...binaryHeaders, "ce-subject": "caf%C3%A9%20%22x%22", "ce-traceparent": "00-abc" }),
      { subject: 'café "x"', extensions: { traceparent: "00-abc" }, mode: "binary" },
    ],
    [
      "binary mode, text data",
      message({ ...binaryHeaders, "content-type": "text/plain; charset=utf-8" }, "hello"),
      { data: "hello" },
    ],
    [
      "binary mode, other bytes kept as base64",
      message({ ...binaryHeaders, "content-type": "application/octet-stream" }, Buffer.from([0, 1, 2])),
      { data_base64: "AAEC" },
    ],
    [
      "structured mode with extensions and a time",
      message(
        { "content-type": "application/cloudevents+json; charset=utf-8" },
        JSON.stringify({
          specversion: "1.0",
          id: "e2",
          source: "urn:x",
          type: "t",
          time: "2026-12-04T10:00:00.123+01:00",
          partitionkey: "p1",
          sequence: 7,
          data: [1, 2],
        }),
      ),
      {
        id: "e2",
        time: "2026-12-04T10:00:00.123+01:00",
        extensions: { partitionkey: "p1", sequence: 7 },
        data: [1, 2],
        mode: "structured",
      },
    ],
    [
      "structured mode with data_base64",
      message(
        { "content-type": "application/cloudevents+json" },
        JSON.stringify({ specversion: "1.0", id: "e3", source: "/s", type: "t", data_base64: "AAEC" }),
      ),
      { data_base64: "AAEC" },
    ],
  ];
  for (const [what, input, expected] of accepted) {
    test(`reads ${what}`, () => {
      const event = parseCloudEvent(input);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual((event as unknown as Record<string, unknown>)[key], value, key);
      }
    });
  }

  const refused: [what: string, input: HttpMessage, detail: RegExp][] = [
    [
      "a request with neither mode",
      message({ "content-type": "application/json" }, "{}"),
      /not a CloudEvent/,
    ],
    [
      "a batch",
      message({ "content-type": "application/cloudevents-batch+json" }, "[]"),
      /one event per request/,
    ],
    [
      "structured JSON that does not parse",
      message({ "content-type": "application/cloudevents+json" }, "{"),
      /not valid JSON/,
    ],
    [
      "a structured array",
      message({ "content-type": "application/cloudevents+json" }, "[]"),
      /one JSON object/,
    ],
    [
      "a missing type and an empty id",
      message(
        { "content-type": "application/cloudevents+json" },
        JSON.stringify({ specversion: "1.0", id: "", source: "/s" }),
      ),
      /id is empty; type is required/,
    ],
    [
      "a time that is not RFC 3339",
      message({ ...binaryHeaders, "ce-time": "yesterday" }),
      /time must be an RFC 3339 timestamp/,
    ],
    [
      "data and data_base64 both",
      message(
        { "content-type": "application/cloudevents+json" },
        JSON.stringify({
          specversion: "1.0",
          id: "e",
          source: "/s",
          type: "t",
          data: 1,
          data_base64: "AA==",
        }),
      ),
      /data or data_base64, not both/,
    ],
    [
      "an extension name with capitals",
      message(
        { "content-type": "application/cloudevents+json" },
        JSON.stringify({ specversion: "1.0", id: "e", source: "/s", type: "t", Trace: "x" }),
      ),
      /extension names are 1 to 20 lower-case letters and digits/,
    ],
    [
      "an extension holding an object",
      message(
        { "content-type": "application/cloudevents+json" },
        JSON.stringify({ specversion: "1.0", id: "e", source: "/s", type: "t", ext: {} }),
      ),
      /must be a string, an integer or a boolean/,
    ],
    [
      "a header that is not percent-encoded UTF-8",
      message({ ...binaryHeaders, "ce-subject": "%E0%A4%A" }),
      /percent-encoded/,
    ],
    [
      "JSON data that does not parse",
      message({ ...binaryHeaders, "content-type": "application/json" }, "{"),
      /declared application\/json but is not valid JSON/,
    ],
    [
      "datacontenttype as a ce- header",
      message({ ...binaryHeaders, "ce-datacontenttype": "x/y" }),
      /not a binary-mode header/,
    ],
  ];
  for (const [what, input, detail] of refused) {
    test(`refuses ${what}`, () => {
      assert.throws(
        () => parseCloudEvent(input),
        (error: unknown) =>
          error instanceof UserError && error.httpStatus === 400 && detail.test(error.message),
      );
    });
  }

  test("reads what the CloudEvents SDK sends in either mode as the same event", () => {
    const sent = new CloudEvent({
      id: "sdk-1",
      source: "/sdk",
      type: "dev.waybill.image.pushed",
      subject: "images/shop",
      datacontenttype: "application/json",
      data: { image: "r/shop@sha256:" + "a".repeat(64) },
      traceparent: "00-1-2-01",
    });
    const fromBinary = parseCloudEvent(
      message(HTTP.binary(sent).headers as Record<string, string>, HTTP.binary(sent).body as string),
    );
    const fromStructured = parseCloudEvent(
      message(HTTP.structured(sent).headers as Record<string, string>, HTTP.structured(sent).body as string),
    );
    assert.deepEqual(structuredForm(fromBinary), structuredForm(fromStructured));
    assert.equal(fromBinary.extensions.traceparent, "00-1-2-01");
  });
});
