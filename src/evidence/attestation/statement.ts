/**
 * in-toto Statements (attestation framework v1), the payload Waybill signs. Reading also
 * accepts the older `Statement/v0.1`, whose fields are the same, because other tools still
 * produce it. Pure.
 */
import { UserError } from "../../errors.js";

export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const STATEMENT_V1 = "https://in-toto.io/Statement/v1";
export const STATEMENT_V01 = "https://in-toto.io/Statement/v0.1";

export interface Subject {
  name: string;
  /** Algorithm name → lowercase hex, e.g. { sha256: "…" } */
  digest: Record<string, string>;
}

export interface Statement<Predicate = unknown> {
  _type: typeof STATEMENT_V1 | typeof STATEMENT_V01;
  subject: Subject[];
  predicateType: string;
  predicate: Predicate;
}

/** Waybill's artifact digests are always `sha256:<64 hex>`. */
export function parseSha256Digest(digest: string): string {
  const match = /^sha256:([0-9a-f]{64})$/i.exec(digest);
  if (match?.[1] === undefined)
    throw new UserError(`not a sha256 digest: "${digest}" (expected sha256:<64 hex>)`);
  return match[1].toLowerCase();
}

export function makeStatement<Predicate>(
  subjects: { name: string; digest: string }[],
  predicateType: string,
  predicate: Predicate,
): Statement<Predicate> {
  if (subjects.length === 0) throw new UserError("a statement needs at least one subject");
  return {
    _type: STATEMENT_V1,
    subject: subjects.map(({ name, digest }) => ({ name, digest: { sha256: parseSha256Digest(digest) } })),
    predicateType,
    predicate,
  };
}

export function serializeStatement(statement: Statement): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(statement));
}

/** Parses a signed payload into a Statement, or throws a UserError saying what is wrong with it. */
export function parseStatement(payload: Uint8Array): Statement {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (error) {
    throw new UserError(`the payload is not a JSON in-toto statement (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError("the payload is not an in-toto statement (expected a JSON object)");
  }
  const record = value as Record<string, unknown>;
  const type = record._type;
  if (type !== STATEMENT_V1 && type !== STATEMENT_V01) {
    throw new UserError(
      `unsupported statement _type ${JSON.stringify(type)} (expected ${STATEMENT_V1} or ${STATEMENT_V01})`,
    );
  }
  if (typeof record.predicateType !== "string" || record.predicateType === "") {
    throw new UserError("the statement has no predicateType");
  }
  if (!Array.isArray(record.subject) || record.subject.length === 0) {
    throw new UserError("the statement has no subject");
  }
  const subject = record.subject.map((entry: unknown, index) => parseSubject(entry, index));
  return { _type: type, subject, predicateType: record.predicateType, predicate: record.predicate };
}

function parseSubject(entry: unknown, index: number): Subject {
  const where = `subject[${index}]`;
  if (typeof entry !== "object" || entry === null) throw new UserError(`${where} is not an object`);
  const { name, digest } = entry as Record<string, unknown>;
  if (typeof digest !== "object" || digest === null || Array.isArray(digest)) {
    throw new UserError(`${where} has no digest`);
  }
  const digests: Record<string, string> = {};
  for (const [algorithm, hex] of Object.entries(digest)) {
    if (typeof hex !== "string") throw new UserError(`${where}.digest.${algorithm} is not a string`);
    digests[algorithm] = hex;
  }
  // v0.1 made the name optional; an empty one is what the spec says to assume then.
  return { name: typeof name === "string" ? name : "", digest: digests };
}

/** Whether any subject carries this artifact digest (`sha256:<hex>`). Hex case does not matter. */
export function subjectMatches(statement: Statement, artifactDigest: string): boolean {
  const wanted = parseSha256Digest(artifactDigest);
  return statement.subject.some((subject) => subject.digest.sha256?.toLowerCase() === wanted);
}

/** `name sha256:…` for each subject, for messages and `--json` output. */
export function describeSubjects(statement: Statement): string[] {
  return statement.subject.map((subject) => {
    const sha256 = subject.digest.sha256;
    const digest = sha256 === undefined ? Object.keys(subject.digest).join("+") : `sha256:${sha256}`;
    return subject.name === "" ? digest : `${subject.name} ${digest}`;
  });
}
