import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  GateInputError,
  describeInputError,
  parseJson,
  parsePreviousEvaluations,
  parseSamples,
  parseSliValues,
} from "./inputs.js";

function inputError(run: () => unknown): GateInputError {
  try {
    run();
  } catch (error) {
    if (error instanceof GateInputError) return error;
    throw error;
  }
  assert.fail("expected a GateInputError");
}

describe("parseJson", () => {
  const table: { name: string; text: string; line: number; column: number; says: string }[] = [
    {
      name: "finds an unexpected token that V8 gives no position for",
      text: '{\n  "a": 1,\n  "b": }\n',
      line: 3,
      column: 8,
      says: "Unexpected token '}'",
    },
    {
      name: "points after the last value when the text ends early",
      text: "[1, 2",
      line: 1,
      column: 6,
      says: "Expected",
    },
    { name: "points at text after the value", text: '{"a": 1}\n  x', line: 2, column: 3, says: "after JSON" },
    { name: "points at a trailing comma", text: '{"a": 1,}', line: 1, column: 9, says: "property name" },
    { name: "points at a doubled comma", text: "[1,,2]", line: 1, column: 4, says: "Unexpected token ','" },
    { name: "points at the end of empty text", text: "", line: 1, column: 1, says: "Unexpected end" },
  ];
  for (const row of table) {
    it(row.name, () => {
      const error = inputError(() => parseJson(row.text));
      assert.deepEqual([error.line, error.column], [row.line, row.column]);
      assert.ok(error.message.includes(row.says), error.message);
      assert.ok(!error.message.includes("position"), error.message);
    });
  }

  it("returns the value of valid JSON", () =>
    assert.deepEqual(parseJson('{"a": [1, null]}'), { a: [1, null] }));
});

describe("parseSliValues", () => {
  it("reads an object of values", () => {
    assert.deepEqual(parseSliValues('{"latency_p95": 180.5, "error_rate": null}'), {
      latency_p95: 180.5,
      error_rate: null,
    });
  });

  it("reads Keptn's indicatorValues, where success false means no value", () => {
    const text = JSON.stringify([
      { metric: "latency_p95", value: 180.5, success: true },
      { metric: "error_rate", value: 0, success: false, message: "query failed" },
      { metric: "throughput", value: 42 },
    ]);
    assert.deepEqual(parseSliValues(text), { latency_p95: 180.5, error_rate: null, throughput: 42 });
  });

  const invalid: { text: string; says: string }[] = [
    { text: '"fast"', says: "expected an object of SLI values" },
    { text: '{"latency": "180ms"}', says: 'latency: expected a number or null, got "180ms"' },
    { text: '[{"value": 1}]', says: "[0].metric" },
    { text: '[{"metric": "a", "value": 1, "success": "yes"}]', says: "[0].success" },
    { text: '[{"metric": "a", "value": true}]', says: "[0].value: expected a number or null, got true" },
  ];
  for (const { text, says } of invalid) {
    it(`names the path of a wrong shape in ${text}`, () => {
      assert.ok(inputError(() => parseSliValues(text)).message.includes(says));
    });
  }
});

describe("parsePreviousEvaluations", () => {
  it("reads earlier evaluations, newest first", () => {
    const text = '[{"result": "pass", "values": {"a": 1}}, {"result": "fail", "values": {"a": null}}]';
    assert.deepEqual(parsePreviousEvaluations(text), [
      { result: "pass", values: { a: 1 } },
      { result: "fail", values: { a: null } },
    ]);
  });

  const invalid: { text: string; says: string }[] = [
    { text: "{}", says: "expected an array of earlier evaluations" },
    {
      text: '[{"result": "passed", "values": {}}]',
      says: '[0].result: expected "pass", "warning" or "fail"',
    },
    { text: '[{"result": "pass"}]', says: "[0].values" },
    { text: '[{"result": "pass", "values": {"a": "1"}}]', says: "[0].values.a" },
  ];
  for (const { text, says } of invalid) {
    it(`names the path of a wrong shape in ${text}`, () => {
      assert.ok(inputError(() => parsePreviousEvaluations(text)).message.includes(says));
    });
  }
});

describe("parseSamples", () => {
  it("reads numbers, with null for a missing value", () =>
    assert.deepEqual(parseSamples("[1, null, 2.5]"), [1, null, 2.5]));
  it("rejects a value that is not a number", () => {
    assert.ok(
      inputError(() => parseSamples('[1, "2"]')).message.includes('[1]: expected a number or null, got "2"'),
    );
  });
  it("rejects an object", () =>
    assert.ok(inputError(() => parseSamples('{"a": 1}')).message.includes("array")));
});

describe("describeInputError", () => {
  it("gives file:line:col for a syntax error", () => {
    assert.equal(
      describeInputError("sli.json", new GateInputError("invalid JSON: x", 2, 5)),
      "sli.json:2:5: invalid JSON: x",
    );
  });
  it("gives just the file for a wrong shape", () => {
    assert.equal(
      describeInputError("sli.json", new GateInputError("[0].metric: …")),
      "sli.json: [0].metric: …",
    );
  });
});
