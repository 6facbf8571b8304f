/**
 * Reads waybill.yaml and Keptn slo.yaml files and validates them against the zod schema.
 * Every problem is reported as file:line:col with the field path, so the user can go
 * straight to it: zod says what is wrong and where in the data, the YAML syntax tree says
 * where that data sits in the text.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import {
  LineCounter,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type YAMLError,
} from "yaml";
import { z } from "zod";
import { UserError } from "../errors.js";
import { isGitUrl, serviceSpecSchema, sloSchema, type ServiceSpec, type SloSpec } from "./schema.js";

export interface SpecIssue {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
  /** The field, as in `stages[1].strategy`; empty for the file as a whole */
  path: string;
  message: string;
}

const maxIssuesInMessage = 10;

/** A waybill.yaml or slo.yaml that does not parse or does not validate. Exits 2 like any UserError. */
export class SpecError extends UserError {
  readonly issues: SpecIssue[];

  constructor(issues: SpecIssue[]) {
    super(formatIssues(issues));
    this.name = "SpecError";
    this.issues = issues;
  }
}

export function formatIssue(issue: SpecIssue): string {
  const field = issue.path === "" ? "" : `${issue.path}: `;
  return `${issue.file}:${issue.line}:${issue.col}: ${field}${issue.message}`;
}

function formatIssues(issues: SpecIssue[]): string {
  const lines = issues.slice(0, maxIssuesInMessage).map(formatIssue);
  if (issues.length > maxIssuesInMessage) lines.push(`…and ${issues.length - maxIssuesInMessage} more`);
  return lines.join("\n");
}

export function parseServiceSpec(text: string, file: string): ServiceSpec {
  return validateSource(serviceSpecSchema, parseYamlSource(text, file, emptyServiceSpecMessage));
}

export function parseSlo(text: string, file: string): SloSpec {
  return validateSource(sloSchema, parseYamlSource(text, file, emptySloMessage));
}

export function loadSloFile(path: string): SloSpec {
  return parseSlo(readSpecText(path), path);
}

export interface LoadedServiceSpec {
  /** With `slo` read from its file when waybill.yaml names one */
  spec: ServiceSpec;
  /** Absolute path of the waybill.yaml */
  file: string;
  /** Absolute path of the service folder */
  dir: string;
  /** Absolute path of the Keptn slo.yaml, when `slo` names a file */
  sloFile?: string;
}

export function loadServiceSpec(path: string): LoadedServiceSpec {
  return loadServiceFromSource(parseYamlSource(readSpecText(path), path, emptyServiceSpecMessage));
}

export type LoadedSpecFile =
  ({ kind: "service" } & LoadedServiceSpec) | { kind: "slo"; slo: SloSpec; file: string };

/** Loads a waybill.yaml, or a Keptn slo.yaml if the file looks like one (for `waybill validate`). */
export function loadSpecFile(path: string): LoadedSpecFile {
  const source = parseYamlSource(readSpecText(path), path, emptyServiceSpecMessage);
  if (looksLikeKeptnSlo(source.value)) {
    return { kind: "slo", slo: validateSource(sloSchema, source), file: resolve(path) };
  }
  return { kind: "service", ...loadServiceFromSource(source) };
}

/** Keptn SLO files have objectives or a spec_version, and none of waybill.yaml's own fields. */
export function looksLikeKeptnSlo(value: Record<string, unknown>): boolean {
  const hasSloField = "objectives" in value || "spec_version" in value;
  return hasSloField && !("metadata" in value) && !("run" in value);
}

function loadServiceFromSource(source: YamlSource): LoadedServiceSpec {
  const file = resolve(source.file);
  const spec = withGitopsReposResolved(validateSource(serviceSpecSchema, source), dirname(file));
  if (typeof spec.slo !== "string") return { spec, file, dir: dirname(file) };

  // Shown relative to the waybill.yaml as the user named it, so messages stay short.
  const sloFile = isAbsolute(spec.slo) ? spec.slo : join(dirname(source.file), spec.slo);
  let sloText: string;
  try {
    sloText = readSpecText(sloFile);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    throw new SpecError([issueAt(source, ["slo"], "value", error.message)]);
  }
  return {
    spec: { ...spec, slo: parseSlo(sloText, sloFile) },
    file,
    dir: dirname(file),
    sloFile: resolve(sloFile),
  };
}

/** A GitOps working copy named by a relative path is found next to the waybill.yaml, as slo: is. */
function withGitopsReposResolved(spec: ServiceSpec, dir: string): ServiceSpec {
  return {
    ...spec,
    stages: spec.stages.map((stage) =>
      stage.gitops === undefined || isGitUrl(stage.gitops.repo) || isAbsolute(stage.gitops.repo)
        ? stage
        : { ...stage, gitops: { ...stage.gitops, repo: resolve(dir, stage.gitops.repo) } },
    ),
  };
}

function readSpecText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`cannot read ${path}: no such file`);
    if (code === "EISDIR") throw new UserError(`cannot read ${path}: it is a directory`);
    if (code === "EACCES") throw new UserError(`cannot read ${path}: permission denied`);
    throw error;
  }
}

/** True if path names a directory (so `waybill validate svc/` can mean svc/waybill.yaml). */
export function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

// ---------------------------------------------------------------------------------------
// YAML

const emptyServiceSpecMessage =
  "the file is empty; a waybill.yaml needs at least metadata.name and run.command";
const emptySloMessage = "the file is empty; a Keptn slo.yaml needs at least objectives";

interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: Record<string, unknown>;
}

function parseYamlSource(text: string, file: string, emptyMessage: string): YamlSource {
  const lines = new LineCounter();
  // Merge keys (<<: *defaults) are common for sharing stage settings, so they are allowed.
  const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false });
  const at = (offset: number) => lines.linePos(offset);

  if (doc.errors.length > 0) throw new SpecError(yamlErrorIssues(doc, file, lines));

  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    throw new SpecError([{ file, line: 1, col: 1, path: "", message: emptyMessage }]);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    // Only an alias bomb gets here: the document itself parsed.
    throw new SpecError([{ file, ...at(root.range[0]), path: "", message: (error as Error).message }]);
  }
  if (!isMap(root) || !isPlainObject(value)) {
    const message = `expected a mapping of fields (apiVersion, metadata, run, …) at the top level, got ${describeValue(value, true)}`;
    throw new SpecError([{ file, ...at(root.range[0]), path: "", message }]);
  }
  return { file, doc, lines, value };
}

function yamlErrorIssues(doc: Document.Parsed, file: string, lines: LineCounter): SpecIssue[] {
  // After the first syntax error the parser is often out of step and the rest is noise;
  // duplicate keys, though, are each a separate mistake.
  const [first] = doc.errors;
  const shown = doc.errors.filter((error) => error === first || error.code === "DUPLICATE_KEY");
  return shown.map((error) => {
    const opening = unclosedOpening(doc, error);
    return {
      file,
      ...lines.linePos(opening?.offset ?? error.pos[0]),
      path: "",
      message: opening?.message ?? yamlErrorMessage(error, doc, lines),
    };
  });
}

/**
 * The parser notices a missing closing quote or bracket only where the text runs out, often
 * lines later; the mistake is where the string or flow collection was opened.
 */
function unclosedOpening(
  doc: Document.Parsed,
  error: YAMLError,
): { offset: number; message: string } | undefined {
  const [errorOffset] = error.pos;
  const isQuote = error.code === "MISSING_CHAR" && error.message.includes("quote");
  const isFlow = error.code === "BAD_INDENT" && error.message.startsWith("Flow ");
  if (!isQuote && !isFlow) return undefined;
  let innermost: { offset: number; message: string } | undefined;
  const search = (node: unknown): void => {
    if (isPair(node)) {
      search(node.key);
      search(node.value);
      return;
    }
    if (!isNode(node) || node.range == null) return;
    const [start, , end] = node.range;
    if (
      start <= errorOffset &&
      errorOffset <= end &&
      (innermost === undefined || start >= innermost.offset)
    ) {
      if (isQuote && isScalar(node) && (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE")) {
        const quote = node.type === "QUOTE_DOUBLE" ? '"' : "'";
        innermost = {
          offset: start,
          message: `YAML syntax error: the string opened here has no closing ${quote}`,
        };
      }
      if (isFlow && (isMap(node) || isSeq(node)) && node.flow === true) {
        const close = isMap(node) ? "}" : "]";
        innermost = {
          offset: start,
          message: `YAML syntax error: the ${isMap(node) ? "{" : "["} opened here has no closing ${close}`,
        };
      }
    }
    if (isMap(node) || isSeq(node)) node.items.forEach(search);
  };
  search(doc.contents);
  return innermost;
}

function yamlErrorMessage(error: YAMLError, doc: Document.Parsed, lines: LineCounter): string {
  switch (error.code) {
    case "DUPLICATE_KEY": {
      const duplicate = findDuplicateKey(doc, error.pos[0]);
      if (duplicate === undefined) return "duplicate key: a field may appear only once in a mapping";
      return `duplicate key "${duplicate.key}": it is already set at line ${lines.linePos(duplicate.firstOffset).line}`;
    }
    case "TAB_AS_INDENT":
      return "YAML does not allow tabs for indentation; indent with spaces";
    case "MULTIPLE_DOCS":
      return "the file holds more than one YAML document ('---'); expected exactly one";
    default: {
      const text = error.message.charAt(0).toLowerCase() + error.message.slice(1);
      return `YAML syntax error: ${text}`;
    }
  }
}

function findDuplicateKey(
  doc: Document.Parsed,
  offset: number,
): { key: string; firstOffset: number } | undefined {
  let found: { key: string; firstOffset: number } | undefined;
  const search = (node: unknown): void => {
    if (found !== undefined) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isNode(pair.key) && pair.key.range?.[0] === offset) {
          const key = keyText(pair.key);
          const first = node.items.find((other) => isNode(other.key) && keyText(other.key) === key);
          const firstOffset = isNode(first?.key) ? first.key.range?.[0] : undefined;
          found = { key, firstOffset: firstOffset ?? offset };
          return;
        }
        search(pair.value);
      }
    } else if (isSeq(node)) {
      node.items.forEach(search);
    }
  };
  search(doc.contents);
  return found;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The position of the data at `path`. "value" points at the value (or at its key when the
 * value is empty), "key" at the key of the last segment. A path that is not in the file,
 * as for a missing field, points at the nearest mapping or list that is.
 */
function positionOf(
  source: YamlSource,
  path: readonly PropertyKey[],
  target: "value" | "key",
): { line: number; col: number } {
  let node: unknown = source.doc.contents;
  let key: unknown;
  for (const segment of path) {
    const collection = isAlias(node) ? node.resolve(source.doc) : node;
    let next: { key?: unknown; value: unknown } | undefined;
    if (isMap(collection)) {
      const pair = collection.items.find((item) => keyText(item.key) === String(segment));
      if (pair !== undefined) next = { key: pair.key, value: pair.value };
    } else if (isSeq(collection) && typeof segment === "number" && segment < collection.items.length) {
      next = { value: collection.items[segment] };
    }
    if (next === undefined) return offsetPosition(source, collection ?? node);
    node = next.value;
    key = next.key;
  }
  const isEmptyValue = !isNode(node) || (isScalar(node) && node.value === null && node.source === "");
  const pointed = target === "key" || isEmptyValue ? (key ?? node) : node;
  return offsetPosition(source, pointed);
}

function offsetPosition(source: YamlSource, node: unknown): { line: number; col: number } {
  const offset = isNode(node) ? node.range?.[0] : undefined;
  return offset === undefined ? { line: 1, col: 1 } : source.lines.linePos(offset);
}

function issueAt(
  source: YamlSource,
  path: readonly PropertyKey[],
  target: "value" | "key",
  message: string,
): SpecIssue {
  return { file: source.file, ...positionOf(source, path, target), path: formatPath(path), message };
}

/** ["stages", 1, "strategy"] → "stages[1].strategy" */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, segment) => {
    if (typeof segment === "number") return `${text}[${segment}]`;
    const name = String(segment);
    if (/^[A-Za-z_][\w-]*$/.test(name)) return text === "" ? name : `${text}.${name}`;
    return `${text}[${JSON.stringify(name)}]`;
  }, "");
}

// ---------------------------------------------------------------------------------------
// zod issues → SpecIssues

function validateSource<Schema extends z.ZodType>(schema: Schema, source: YamlSource): z.output<Schema> {
  const result = schema.safeParse(source.value, { error: expectedMessage, reportInput: true });
  // zod hands out its nested default objects (the default stages, empty env maps) by
  // reference; a copy keeps one caller's change from leaking into every later spec.
  if (result.success) return structuredClone(result.data);
  const issues = result.error.issues.flatMap((issue) => specIssues(issue, [], source));
  throw new SpecError(sortUnique(issues));
}

function sortUnique(issues: SpecIssue[]): SpecIssue[] {
  const unique = new Map(issues.map((issue) => [formatIssue(issue), issue]));
  return [...unique.values()].sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.path.localeCompare(b.path),
  );
}

function specIssues(
  issue: z.core.$ZodIssue,
  prefix: readonly PropertyKey[],
  source: YamlSource,
): SpecIssue[] {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = issue.message.startsWith(allowedKeysPrefix)
        ? issue.message.slice(allowedKeysPrefix.length).split(", ")
        : [];
      return issue.keys.map((key) => {
        const suggestion = closestName(key, allowed);
        const hint = suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
        return issueAt(source, [...path, key], "key", `unknown field "${key}"${hint}; ${issue.message}`);
      });
    }
    case "invalid_union": {
      const branch = issue.errors.length > 0 ? closestUnionBranch(issue.errors, issue.input) : undefined;
      if (branch !== undefined) return branch.flatMap((inner) => specIssues(inner, path, source));
      // A discriminated union reports at the discriminator, with the whole object as input.
      if (issue.discriminator !== undefined && isPlainObject(issue.input)) {
        const found = issue.input[issue.discriminator];
        return [issueAt(source, path, "value", withFound(issue.message, found, false, path))];
      }
      return [issueAt(source, path, "value", withFound(issue.message, issue.input, true, path))];
    }
    case "invalid_type": {
      const message = withFound(issue.message, issue.input, true, path);
      const quoteHint =
        issue.expected === "string" &&
        issue.message === "expected a string" &&
        (typeof issue.input === "number" || typeof issue.input === "boolean")
          ? ` (quote it, "${String(issue.input)}", to make it text)`
          : "";
      return [issueAt(source, path, "value", message + quoteHint)];
    }
    case "too_small":
    case "too_big":
      return [issueAt(source, path, "value", `${issue.message}, got ${describeSize(issue.input)}`)];
    case "invalid_value":
    case "invalid_format":
    case "not_multiple_of":
      return [issueAt(source, path, "value", withFound(issue.message, issue.input, false, path))];
    default:
      return [issueAt(source, path, "value", issue.message)];
  }
}

const requiredFieldHints: Record<string, string> = {
  run: 'it says how to start the service, e.g. run: {command: "node server.js", port: 8080}',
  metadata: "e.g. metadata: {name: checkout}",
  "metadata.name": "the service name, a lowercase DNS label such as checkout",
};

function withFound(
  expected: string,
  found: unknown,
  withType: boolean,
  path: readonly PropertyKey[],
): string {
  if (found !== undefined) return `${expected}, got ${describeValue(found, withType)}`;
  const field = path[path.length - 1];
  const hint = requiredFieldHints[formatPath(path)] ?? expected;
  return typeof field === "string" ? `missing required field "${field}"; ${hint}` : `missing value; ${hint}`;
}

function describeSize(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : `${value.length} items`;
  if (value === "") return "an empty string";
  return describeValue(value, false);
}

function describeValue(value: unknown, withType: boolean): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (isPlainObject(value)) {
    const keys = Object.keys(value).map((key) => `"${key}"`);
    if (keys.length === 0) return "an empty mapping";
    return `a mapping with ${keys.length === 1 ? "key" : "keys"} ${keys.slice(0, 5).join(", ")}`;
  }
  const shown = typeof value === "string" ? JSON.stringify(truncate(value, 60)) : String(value);
  return withType ? `${typeof value} ${shown}` : shown;
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/**
 * Which alternative of a union the user meant, so its specific complaint can be shown instead
 * of "invalid input". Alternatives whose type does not fit at all are out; of the rest, the
 * one with the fewest complaints about its own shape (unknown or missing keys) wins. A tie
 * means the intent is unclear, and the union's own message is shown.
 */
function closestUnionBranch(branches: z.core.$ZodIssue[][], input: unknown): z.core.$ZodIssue[] | undefined {
  const fitting = branches.filter((issues) => !isTypeMismatch(issues, input));
  const ranked = fitting
    .map((issues) => ({ issues, shapeIssues: issues.filter(isShapeIssue).length }))
    .sort((a, b) => a.shapeIssues - b.shapeIssues);
  const [best, runnerUp] = ranked;
  if (best === undefined) return undefined;
  if (runnerUp !== undefined && runnerUp.shapeIssues === best.shapeIssues) return undefined;
  return best.issues;
}

function isTypeMismatch(issues: z.core.$ZodIssue[], input: unknown): boolean {
  const [only] = issues;
  if (issues.length !== 1 || only === undefined || only.path.length > 0) return false;
  if (only.code === "invalid_type") return true;
  return only.code === "invalid_value" && !only.values.some((value) => typeof value === typeof input);
}

function isShapeIssue(issue: z.core.$ZodIssue): boolean {
  if (issue.path.length === 0) return true;
  return issue.path.length === 1 && issue.code === "invalid_type" && issue.input === undefined;
}

function closestName(name: string, candidates: string[]): string | undefined {
  const lower = name.toLowerCase();
  const limit = name.length >= 5 ? 2 : 1;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit (memroy → memory). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const cell = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(cell(i - 1, j) + 1, cell(i, j - 1) + 1, cell(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, cell(i - 2, j - 2) + 1);
      }
      const row = rows[i];
      if (row !== undefined) row[j] = distance;
    }
  }
  return cell(a.length, b.length);
}

// ---------------------------------------------------------------------------------------
// What each kind of zod issue expected, in the user's terms. What was found is added when
// the issue is placed (specIssues), because messages set in the schema lack it too.

const allowedKeysPrefix = "expected one of: ";

const typeNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
  null: "an empty value",
};

const expectedMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${typeNames[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of ${issue.values.map(String).join(", ")}`;
    case "invalid_format":
      if (issue.format === "starts_with") return `expected a string starting with "${String(issue.prefix)}"`;
      if (issue.format === "url") return "expected a URL such as http://prometheus:9090";
      if (issue.format === "regex") return `expected a string matching ${String(issue.pattern)}`;
      return `expected a valid ${issue.format}`;
    case "too_small":
      return `expected ${sizeBound(issue.origin, issue.minimum, issue.inclusive, "at least", "more than")}`;
    case "too_big":
      return `expected ${sizeBound(issue.origin, issue.maximum, issue.inclusive, "at most", "less than")}`;
    case "not_multiple_of":
      return `expected a multiple of ${issue.divisor}`;
    case "unrecognized_keys":
      return allowedKeysPrefix + allowedKeys(issue.inst).join(", ");
    case "invalid_union":
      if ("options" in issue && Array.isArray(issue.options) && issue.options.length > 0) {
        return `expected one of ${issue.options.map(String).join(", ")}`;
      }
      return `expected ${describeUnion(issue.inst)}`;
    default:
      return undefined;
  }
};

function sizeBound(
  origin: string,
  bound: number | bigint,
  inclusive: boolean | undefined,
  inclusiveWord: string,
  exclusiveWord: string,
): string {
  const word = inclusive === false ? exclusiveWord : inclusiveWord;
  if (origin === "array" || origin === "set") return `${word} ${bound} ${bound === 1 ? "item" : "items"}`;
  if (origin === "string") {
    return bound === 1 && word === "at least" ? "a non-empty string" : `${word} ${bound} characters`;
  }
  return `${word} ${bound}`;
}

function allowedKeys(schema: unknown): string[] {
  if (schema instanceof z.core.$ZodObject) return Object.keys(schema._zod.def.shape);
  return [];
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  if (schema instanceof z.core.$ZodOptional || schema instanceof z.core.$ZodDefault) {
    return unwrap(schema._zod.def.innerType);
  }
  return schema;
}

/** "one of sbom, provenance or a mapping with one key out of sbom, vulns" */
function describeUnion(schema: unknown): string {
  if (!(schema instanceof z.core.$ZodUnion)) return "a different value";
  const words: string[] = [];
  const singleKeyMappings: string[] = [];
  for (const option of (schema._zod.def.options as z.core.$ZodType[]).map(unwrap)) {
    const keys = allowedKeys(option);
    if (option instanceof z.core.$ZodObject && keys.length === 1) singleKeyMappings.push(...keys);
    else words.push(describeSchema(option));
  }
  if (singleKeyMappings.length > 0) {
    words.push(`a mapping with one key out of ${singleKeyMappings.join(", ")}`);
  }
  return words.join(" or ");
}

function describeSchema(schema: z.core.$ZodType): string {
  if (schema instanceof z.core.$ZodEnum) return `one of ${Object.values(schema._zod.def.entries).join(", ")}`;
  if (schema instanceof z.core.$ZodLiteral) {
    return schema._zod.def.values.map((value) => JSON.stringify(value)).join(", ");
  }
  if (schema instanceof z.core.$ZodArray) {
    const element = describeSchema(unwrap(schema._zod.def.element));
    return `a list of ${element.replace(/^an? /, "")}s`;
  }
  return typeNames[schema._zod.def.type] ?? `a ${schema._zod.def.type}`;
}
