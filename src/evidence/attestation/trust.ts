/**
 * The trust file: which public keys Waybill trusts, and for which predicate types each.
 *
 *   keys:
 *     - name: ci
 *       publicKey: keys/ci.pub          # a path, relative to this file, or inline PEM
 *       predicates: [provenance, sbom]  # short names or URIs
 *
 * Every mistake is reported as file:line:col, as waybill.yaml errors are.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument, type YAMLMap } from "yaml";
import { UserError, errorMessage } from "../../errors.js";
import { keysForPredicate, type PolicyKey } from "./attestation.js";
import { keyIdOf, loadPublicKey } from "./keys.js";
import { resolvePredicateType } from "./predicate-types.js";

export interface TrustPolicy {
  file: string;
  keys: (PolicyKey & { predicateTypes: string[] })[];
}

export class TrustFileError extends UserError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${col}: ${problem}`);
    this.name = "TrustFileError";
  }
}

export function loadTrustFile(file: string): TrustPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UserError(`cannot read trust file ${file}: ${errorMessage(error)}`);
  }
  return parseTrustFile(text, file);
}

/** Parses trust file text; key paths are resolved against the file's folder. */
export function parseTrustFile(text: string, file: string): TrustPolicy {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const fail = (offset: number, problem: string): never => {
    const { line, col } = lineCounter.linePos(offset);
    throw new TrustFileError(file, line, col, problem);
  };
  const firstError = document.errors[0];
  if (firstError !== undefined) fail(firstError.pos[0], firstError.message.split("\n")[0] ?? "invalid YAML");

  const root = document.contents;
  if (!isMap(root)) return fail(root?.range?.[0] ?? 0, "expected a mapping with a `keys` list");
  const keysNode = root.get("keys", true);
  if (!isSeq(keysNode)) return fail(positionOf(keysNode ?? root), "`keys` must be a list of keys");

  const names = new Set<string>();
  const keys = keysNode.items.map((item, index) => {
    const where = `keys[${index}]`;
    if (!isMap(item))
      return fail(positionOf(item), `${where} must be a mapping with name, publicKey and predicates`);
    for (const pair of item.items) {
      const field = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!["name", "publicKey", "predicates"].includes(field)) {
        fail(
          positionOf(pair.key),
          `${where}: unknown field "${field}" (expected name, publicKey, predicates)`,
        );
      }
    }
    const name = requiredString(item, "name", where, fail);
    if (names.has(name))
      fail(positionOf(item.get("name", true)), `${where}: the name "${name}" is used twice`);
    names.add(name);

    const keyText = requiredString(item, "publicKey", where, fail);
    const keyNode = item.get("publicKey", true);
    const pemOrPath = keyText.includes("-----BEGIN") ? keyText : resolve(dirname(file), keyText);
    const publicKey = atPosition(positionOf(keyNode), fail, () => loadPublicKey(pemOrPath, `key "${name}"`));

    const predicatesNode = item.get("predicates", true);
    if (!isSeq(predicatesNode) || predicatesNode.items.length === 0) {
      return fail(
        positionOf(predicatesNode ?? item),
        `${where}: predicates must be a non-empty list of predicate types`,
      );
    }
    const predicateTypes = predicatesNode.items.map((predicate) => {
      if (!isScalar(predicate) || typeof predicate.value !== "string") {
        return fail(positionOf(predicate), `${where}: each predicate must be a short name or a URI`);
      }
      const nameOrUri = predicate.value;
      return atPosition(positionOf(predicate), fail, () => resolvePredicateType(nameOrUri));
    });
    return { name, keyid: keyIdOf(publicKey), publicKey, predicateTypes };
  });
  return { file, keys };
}

/** The trusted keys that may sign this predicate type (a URI or a short name). */
export function policyKeysFor(policy: TrustPolicy, predicateType: string): PolicyKey[] {
  return keysForPredicate(policy.keys, resolvePredicateType(predicateType));
}

function requiredString(
  map: YAMLMap,
  field: string,
  where: string,
  fail: (offset: number, problem: string) => never,
): string {
  const node = map.get(field, true);
  if (node === undefined) return fail(positionOf(map), `${where}: ${field} is required`);
  if (!isScalar(node) || typeof node.value !== "string" || node.value.trim() === "") {
    return fail(positionOf(node), `${where}: ${field} must be a non-empty string`);
  }
  return node.value;
}

/** Runs a check that throws a UserError, and reports its message at the node's position. */
function atPosition<T>(offset: number, fail: (offset: number, problem: string) => never, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return fail(offset, error.message);
  }
}

function positionOf(node: unknown): number {
  return isNode(node) ? (node.range?.[0] ?? 0) : 0;
}
