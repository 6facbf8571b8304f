/**
 * Which manifests would break on a Kubernetes upgrade: objects whose apiVersion and kind the
 * target version no longer serves, with what to use instead. The data is the official
 * Deprecated API Migration Guide (removed-apis.json). Pure: callers read the files.
 */
import { LineCounter, isMap, isSeq, parseAllDocuments, type Node } from "yaml";
import { UserError } from "../errors.js";
import removedApiData from "./removed-apis.json" with { type: "json" };

export interface RemovedApi {
  apiVersion: string;
  kind: string;
  /** The Kubernetes minor release that stopped serving it, e.g. "1.22" */
  removedIn: string;
  /** The API version to migrate to, or null when there is none */
  replacement: string | null;
  /** What to do instead, when there is no replacement API */
  advice?: string;
}

export const removedApis: readonly RemovedApi[] = removedApiData.removals;

/** An object found in a manifest, with where it starts. */
export interface ManifestObject {
  file: string;
  /** 1-based line where the object's document (or List item) starts */
  line: number;
  apiVersion: string;
  kind: string;
  /** metadata.name; empty when the object has none (e.g. uses generateName) */
  name: string;
}

export interface UpgradeFinding extends ManifestObject {
  removedIn: string;
  /** The API version that works in the target release, or what to do when there is none */
  replacement: string;
  /** False when `replacement` is advice rather than an API version */
  replacementIsApiVersion: boolean;
}

export interface KubeVersion {
  major: number;
  minor: number;
}

/** "1.29", "v1.29" or "1.29.3" → {major: 1, minor: 29} */
export function parseKubeVersion(text: string): KubeVersion {
  const match = /^v?(\d+)\.(\d+)(\.\d+)?$/.exec(text.trim());
  if (match === null) {
    throw new UserError(`invalid Kubernetes version "${text}": expected a release such as 1.29 or v1.32.2`);
  }
  return { major: Number(match[1]), minor: Number(match[2]) };
}

function isRemovedBy(removedIn: string, target: KubeVersion): boolean {
  const removal = parseKubeVersion(removedIn);
  return removal.major < target.major || (removal.major === target.major && removal.minor <= target.minor);
}

function removalOf(apiVersion: string, kind: string, target: KubeVersion): RemovedApi | undefined {
  return removedApis.find(
    (api) => api.apiVersion === apiVersion && api.kind === kind && isRemovedBy(api.removedIn, target),
  );
}

/**
 * The guide names the replacement of its day, which may itself be gone by the target release
 * (flowcontrol v1beta1 → v1beta2, removed in 1.29 → v1), so the chain is followed.
 */
function replacementIn(
  removal: RemovedApi,
  target: KubeVersion,
): Pick<UpgradeFinding, "replacement" | "replacementIsApiVersion"> {
  let current = removal;
  for (;;) {
    if (current.replacement === null) {
      return { replacement: current.advice ?? "no replacement API", replacementIsApiVersion: false };
    }
    const next = removalOf(current.replacement, current.kind, target);
    if (next === undefined) return { replacement: current.replacement, replacementIsApiVersion: true };
    current = next;
  }
}

export function upgradeFindings(objects: readonly ManifestObject[], kubeVersion: string): UpgradeFinding[] {
  const target = parseKubeVersion(kubeVersion);
  return objects.flatMap((object) => {
    const removal = removalOf(object.apiVersion, object.kind, target);
    if (removal === undefined) return [];
    return [{ ...object, removedIn: removal.removedIn, ...replacementIn(removal, target) }];
  });
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === "string" ? field : undefined;
}

function objectName(value: unknown): string {
  const metadata =
    typeof value === "object" && value !== null ? (value as { metadata?: unknown }).metadata : undefined;
  return stringField(metadata, "name") ?? "";
}

/**
 * The Kubernetes objects in a YAML or JSON text of one or more documents. A `kind: …List`
 * (as `kubectl get -o yaml` prints) counts as its items. Documents without apiVersion and
 * kind are not Kubernetes objects and are skipped.
 */
export function manifestObjects(text: string, file: string): ManifestObject[] {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  // Without documents (empty text) the parser returns an empty stream, not an array.
  const list = Array.isArray(documents) ? documents : [];
  const objects: ManifestObject[] = [];
  const lineOf = (node: Node | null, fallback: number): number =>
    lines.linePos(node?.range?.[0] ?? fallback).line;
  for (const document of list) {
    const [error] = document.errors;
    if (error !== undefined) {
      const { line, col } = lines.linePos(error.pos[0]);
      throw new UserError(`${file}:${line}:${col}: YAML syntax error: ${error.message.split("\n")[0]}`);
    }
    const value: unknown = document.toJS({ maxAliasCount: 1000 });
    const apiVersion = stringField(value, "apiVersion");
    const kind = stringField(value, "kind");
    if (apiVersion === undefined || kind === undefined) continue;
    const contents = document.contents;
    const items = isMap(contents) ? contents.get("items", true) : undefined;
    if (kind.endsWith("List") && isSeq(items)) {
      const values = (value as { items?: unknown }).items;
      items.items.forEach((item, index) => {
        const itemValue: unknown = Array.isArray(values) ? values[index] : undefined;
        const itemApiVersion = stringField(itemValue, "apiVersion");
        const itemKind = stringField(itemValue, "kind");
        if (itemApiVersion === undefined || itemKind === undefined) return;
        const line = lineOf(isMap(item) || isSeq(item) ? item : null, document.range[0]);
        objects.push({ file, line, apiVersion: itemApiVersion, kind: itemKind, name: objectName(itemValue) });
      });
      continue;
    }
    objects.push({
      file,
      line: lineOf(contents, document.range[0]),
      apiVersion,
      kind,
      name: objectName(value),
    });
  }
  return objects;
}
