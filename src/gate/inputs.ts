/**
 * Reads the gate's JSON inputs from text: SLI values, earlier evaluations and metric samples.
 * Errors say where: a JSON syntax error by line and column, a wrong shape by its path (`[2].value`).
 */
import type { EvaluationResult, PreviousEvaluation } from "./slo-evaluation.js";

export class GateInputError extends Error {
  constructor(
    message: string,
    /** 1-based line and column of a JSON syntax error */
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = "GateInputError";
  }
}

/** JSON.parse, with the position of a syntax error even where V8's message leaves it out. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const offset = syntaxErrorOffset(text, error.message);
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    const column = offset - before.lastIndexOf("\n");
    throw new GateInputError(`invalid JSON: ${describeSyntaxError(error.message)}`, line, column);
  }
}

function syntaxErrorOffset(text: string, message: string): number {
  const stated = /at position (\d+)/.exec(message);
  if (stated !== null) return Number(stated[1]);
  if (message.includes("Unexpected end of JSON input")) return text.length;
  // "Unexpected token" gives no position. Every prefix before the bad character still reads as
  // unfinished JSON, and every prefix that includes it fails, so the character can be bisected.
  let viable = 0;
  let failing = text.length;
  while (failing - viable > 1) {
    const middle = Math.floor((viable + failing) / 2);
    if (isUnfinishedJson(text.slice(0, middle))) viable = middle;
    else failing = middle;
  }
  return failing - 1;
}

function isUnfinishedJson(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    const stated = /at position (\d+)/.exec(message);
    return (
      message.includes("Unexpected end of JSON input") ||
      (stated !== null && Number(stated[1]) >= prefix.length)
    );
  }
}

function describeSyntaxError(message: string): string {
  // V8 quotes the text after the token ("Unexpected token '}', "{"a": }" is not valid JSON");
  // the position says where, so the quote is dropped.
  return message
    .replace(/^(Unexpected token '.*?'), (?:"|\.\.\.").*$/s, "$1")
    .replace(/ (?:in JSON )?at position \d+.*$/s, "");
}

/**
 * SLI values, either `{"name": number | null}` or Keptn's indicatorValues,
 * `[{"metric": "name", "value": 1.2, "success": true}]`, where `success: false` means no value.
 */
export function parseSliValues(text: string): Record<string, number | null> {
  const data = parseJson(text);
  if (Array.isArray(data)) return fromIndicatorValues(data);
  if (isRecord(data)) {
    const values: Record<string, number | null> = {};
    for (const [name, value] of Object.entries(data)) values[name] = numberOrNull(value, name);
    return values;
  }
  throw new GateInputError(
    'expected an object of SLI values such as {"latency_p95": 180} or Keptn\'s indicatorValues array',
  );
}

function fromIndicatorValues(entries: readonly unknown[]): Record<string, number | null> {
  const values: Record<string, number | null> = {};
  entries.forEach((entry, index) => {
    const path = `[${index}]`;
    if (!isRecord(entry))
      throw new GateInputError(`${path}: expected {"metric": name, "value": number, "success": boolean}`);
    if (typeof entry.metric !== "string" || entry.metric === "") {
      throw new GateInputError(`${path}.metric: expected the SLI name as a string`);
    }
    if (entry.success !== undefined && typeof entry.success !== "boolean") {
      throw new GateInputError(`${path}.success: expected true or false`);
    }
    const value = numberOrNull(entry.value, `${path}.value`);
    values[entry.metric] = entry.success === false ? null : value;
  });
  return values;
}

/** Earlier evaluations, newest first: `[{"result": "pass", "values": {"name": number | null}}]`. */
export function parsePreviousEvaluations(text: string): PreviousEvaluation[] {
  const data = parseJson(text);
  if (!Array.isArray(data)) {
    throw new GateInputError(
      'expected an array of earlier evaluations such as [{"result": "pass", "values": {…}}]',
    );
  }
  const results: readonly string[] = ["pass", "warning", "fail"] satisfies EvaluationResult[];
  return data.map((entry: unknown, index) => {
    const path = `[${index}]`;
    if (!isRecord(entry)) throw new GateInputError(`${path}: expected {"result": …, "values": {…}}`);
    const result = entry.result;
    if (typeof result !== "string" || !results.includes(result)) {
      throw new GateInputError(`${path}.result: expected "pass", "warning" or "fail"`);
    }
    if (!isRecord(entry.values)) throw new GateInputError(`${path}.values: expected an object of SLI values`);
    const values: Record<string, number | null> = {};
    for (const [name, value] of Object.entries(entry.values)) {
      values[name] = numberOrNull(value, `${path}.values.${name}`);
    }
    return { result: result as EvaluationResult, values };
  });
}

/** A metric sample: an array of numbers, where null is a missing data point (NaN). */
export function parseSamples(text: string): (number | null)[] {
  const data = parseJson(text);
  if (!Array.isArray(data))
    throw new GateInputError("expected an array of numbers, with null for a missing value");
  return data.map((value: unknown, index) => numberOrNull(value, `[${index}]`));
}

function numberOrNull(value: unknown, path: string): number | null {
  if (value === null || (typeof value === "number" && Number.isFinite(value))) return value;
  throw new GateInputError(
    `${path}: expected a number or null, got ${JSON.stringify(value) ?? String(value)}`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The message for a GateInputError in a file, as `file:line:col: …` when the position is known. */
export function describeInputError(file: string, error: GateInputError): string {
  const position = error.line === undefined ? "" : `:${error.line}:${error.column}`;
  return `${file}${position}: ${error.message}`;
}
