/**
 * `upgrade-check --live`: which objects in a cluster were written with an API version that a
 * Kubernetes release removes.
 *
 * The API server converts every object to the version it is asked for, so listing Deployments
 * as apps/v1 shows apps/v1 even for one applied as extensions/v1beta1. What the object was
 * written with survives only in its records: kubectl's last-applied-configuration annotation and
 * the apiVersion of each managedFields entry (as pluto's detect-api-resources reads them).
 *
 * The first half is pure (discovery answers and listed items in, decisions out); the second,
 * `listLiveObjects`, talks to the API server through @kubernetes/client-node.
 */
import { ApiException, ApisApi, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { UserError } from "../errors.js";
import { apiServerMessage } from "./apply.js";
import { parseKubeVersion, removedApis, upgradeFindings, type ManifestObject } from "./upgrade-check.js";

export const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

/** One resource of a group version, as discovery (`GET /apis/<group>/<version>`) lists it. */
export interface ServedResource {
  groupVersion: string;
  kind: string;
  /** The plural resource name, e.g. "deployments"; subresources contain a slash */
  resource: string;
  namespaced: boolean;
  verbs: string[];
}

/** How the version of a live object is known. */
export type WrittenWith =
  | { record: "last-applied" }
  | { record: "field-managers"; managers: string[] }
  // No record: the version it was listed at, removed only when the cluster serves nothing newer.
  | { record: "listed" };

/** An object in a cluster and one version it was written with. */
export interface LiveObject extends ManifestObject {
  writtenWith: WrittenWith;
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
}

/** The groups (removed ones and their replacements) in which removed-apis.json names each kind. */
function groupsByKind(): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  for (const api of removedApis) {
    const forKind = groups.get(api.kind) ?? new Set<string>();
    forKind.add(groupOf(api.apiVersion));
    if (api.replacement !== null) forKind.add(groupOf(api.replacement));
    groups.set(api.kind, forKind);
  }
  return groups;
}

/** The groups discovery has to be asked about. */
function relevantGroups(): Set<string> {
  return new Set([...groupsByKind().values()].flatMap((groups) => [...groups]));
}

/** The release that removes `groupVersion` for `kind` if `kubeVersion` no longer serves it. */
function removedIn(groupVersion: string, kind: string, kubeVersion: string): string | undefined {
  return upgradeFindings([{ file: "", line: 0, apiVersion: groupVersion, kind, name: "" }], kubeVersion)[0]
    ?.removedIn;
}

/** Later removals rank higher; a version the target release still serves ranks highest. */
function rank(removal: string | undefined): number {
  if (removal === undefined) return Number.MAX_SAFE_INTEGER;
  const { major, minor } = parseKubeVersion(removal);
  return major * 1000 + minor;
}

/**
 * One listable resource per kind of removed-apis.json, so each object is seen once: the versions
 * of a kind in these groups share storage (extensions/v1beta1 and apps/v1 Deployments are the
 * same objects). A version `kubeVersion` still serves is preferred, else the one removed last;
 * ties go to discovery order.
 */
export function resourcesToList(served: readonly ServedResource[], kubeVersion: string): ServedResource[] {
  return [...groupsByKind()].flatMap(([kind, groups]) => {
    const best = served
      .filter(
        (resource) =>
          resource.kind === kind &&
          !resource.resource.includes("/") &&
          resource.verbs.includes("list") &&
          groups.has(groupOf(resource.groupVersion)),
      )
      .map((resource) => ({ resource, rank: rank(removedIn(resource.groupVersion, kind, kubeVersion)) }))
      .sort((a, b) => b.rank - a.rank)[0];
    return best === undefined ? [] : [best.resource];
  });
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The apiVersion in a last-applied-configuration; a malformed annotation counts as none. */
function lastAppliedVersion(annotation: string | undefined): string | undefined {
  if (annotation === undefined) return undefined;
  try {
    return text(record(JSON.parse(annotation) as unknown)?.apiVersion);
  } catch {
    return undefined;
  }
}

/** Each apiVersion the field managers wrote with, with the managers that used it, in first-seen order. */
function managerVersions(managedFields: unknown): Map<string, string[]> {
  const versions = new Map<string, string[]>();
  for (const entry of Array.isArray(managedFields) ? managedFields : []) {
    const apiVersion = text(record(entry)?.apiVersion);
    if (apiVersion === undefined) continue;
    const manager = text(record(entry)?.manager) ?? "";
    const managers = versions.get(apiVersion) ?? [];
    if (!managers.includes(manager)) managers.push(manager);
    versions.set(apiVersion, managers);
  }
  return versions;
}

/**
 * The versions one listed object was written with: the last-applied-configuration's apiVersion
 * if the annotation is there (the user's own manifest, as `kubectl apply` last sent it), else
 * each version a field manager wrote with, else the version it was listed at. `source` names
 * the cluster (`live:<context>`); a namespaced object's file is `<source>/<namespace>`, and
 * there is no line (0).
 */
export function writtenVersions(
  item: unknown,
  listed: { apiVersion: string; kind: string },
  source: string,
): LiveObject[] {
  const metadata = record(record(item)?.metadata);
  const namespace = text(metadata?.namespace) ?? "";
  const base = {
    file: namespace === "" ? source : `${source}/${namespace}`,
    line: 0,
    kind: listed.kind,
    name: text(metadata?.name) ?? "",
  };
  const lastApplied = lastAppliedVersion(text(record(metadata?.annotations)?.[lastAppliedAnnotation]));
  if (lastApplied !== undefined) {
    return [{ ...base, apiVersion: lastApplied, writtenWith: { record: "last-applied" } }];
  }
  const managed = managerVersions(metadata?.managedFields);
  if (managed.size > 0) {
    return [...managed].map(([apiVersion, managers]) => ({
      ...base,
      apiVersion,
      writtenWith: { record: "field-managers", managers },
    }));
  }
  return [{ ...base, apiVersion: listed.apiVersion, writtenWith: { record: "listed" } }];
}

/** What a cluster holds of the kinds removed-apis.json names. */
export interface LiveInventory {
  /** One entry per object and version it was written with */
  objects: LiveObject[];
  /** How many objects were listed */
  listed: number;
}

export interface ListLiveOptions {
  /** Objects per list request (`limit`, then `continue`); default 500, as kubectl */
  pageSize?: number;
}

function isFetchError(error: unknown): error is Error {
  return error instanceof Error && error.name === "FetchError";
}

/**
 * Turns what went wrong talking to the cluster into what the user can act on: credentials,
 * permissions and reachability are theirs to fix (UserError); anything else is the server's.
 */
function clusterError(error: unknown, doing: string, context: string, server: string): Error {
  if (error instanceof UserError) return error;
  if (error instanceof ApiException && error.code === 401) {
    return new UserError(
      `the API server of kubeconfig context "${context}" (${server}) refused its credentials (HTTP 401) when asked to ${doing}: log in again or fix the context's user`,
    );
  }
  if (error instanceof ApiException && error.code === 403) {
    return new UserError(
      `kubeconfig context "${context}" may not ${doing}: ${apiServerMessage(error)}; --live needs to list every kind it checks, in all namespaces`,
    );
  }
  if (isFetchError(error)) {
    return new UserError(
      `cannot reach the API server of kubeconfig context "${context}" (${server}): ${error.message}`,
    );
  }
  return new Error(`could not ${doing} in kubeconfig context "${context}": ${apiServerMessage(error)}`);
}

async function servedResources(
  apis: ApisApi,
  customObjects: CustomObjectsApi,
  call: <T>(doing: string, request: () => Promise<T>) => Promise<T>,
): Promise<ServedResource[]> {
  const wanted = relevantGroups();
  const groupList = await call("discover the API groups", () => apis.getAPIVersions());
  const served: ServedResource[] = [];
  for (const group of groupList.groups.filter((candidate) => wanted.has(candidate.name))) {
    for (const { groupVersion, version } of group.versions) {
      const list = await call(`discover the resources of ${groupVersion}`, () =>
        customObjects.getAPIResources({ group: group.name, version }),
      );
      for (const resource of list.resources) {
        served.push({
          groupVersion,
          kind: resource.kind,
          resource: resource.name,
          namespaced: resource.namespaced,
          verbs: resource.verbs,
        });
      }
    }
  }
  return served;
}

/**
 * Lists, in all namespaces, every kind removed-apis.json names that the cluster serves, and
 * reduces each object to the versions it was written with as its page arrives (a cluster's
 * ReplicaSets alone can be many megabytes).
 */
export async function listLiveObjects(
  config: KubeConfig,
  kubeVersion: string,
  options: ListLiveOptions = {},
): Promise<LiveInventory> {
  const context = config.getCurrentContext();
  const server = config.getCurrentCluster()?.server;
  if (server === undefined) {
    throw new UserError(
      `kubeconfig context "${context}" names a cluster that the kubeconfig does not define`,
    );
  }
  const call = async <T>(doing: string, request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      throw clusterError(error, doing, context, server);
    }
  };
  const apis = config.makeApiClient(ApisApi);
  const customObjects = config.makeApiClient(CustomObjectsApi);
  const toList = resourcesToList(await servedResources(apis, customObjects, call), kubeVersion);
  const inventory: LiveInventory = { objects: [], listed: 0 };
  for (const target of toList) {
    const [group = "", version = ""] = target.groupVersion.split("/");
    const listed = { apiVersion: target.groupVersion, kind: target.kind };
    let token: string | undefined;
    do {
      const page: unknown = await call(`list ${target.resource}.${group} in all namespaces`, () =>
        customObjects.listClusterCustomObject({
          group,
          version,
          plural: target.resource,
          limit: options.pageSize ?? 500,
          _continue: token,
        }),
      );
      const items = record(page)?.items;
      for (const item of Array.isArray(items) ? items : []) {
        inventory.objects.push(...writtenVersions(item, listed, `live:${context}`));
        inventory.listed += 1;
      }
      token = text(record(record(page)?.metadata)?.continue) || undefined;
    } while (token !== undefined);
  }
  return inventory;
}
