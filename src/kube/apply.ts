/**
 * Puts rendered manifests on a cluster: a server-side dry run of every object, then a
 * server-side apply (field manager `waybill`, taking ownership of conflicting fields the way
 * `kubectl apply --server-side --force-conflicts` does), then a wait for every Deployment's
 * rollout, decided by `rolloutStatus` exactly as `kubectl rollout status` would.
 *
 * Unlike the pure cores next to it, this file talks to an API server, through
 * @kubernetes/client-node.
 */
import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import type { K8sObject } from "./render.js";
import { rolloutStatus, type DeploymentRolloutView, type RolloutStatus } from "./rollout-status.js";

export const fieldManager = "waybill";

/** The API client for the named kubeconfig context, from $KUBECONFIG or ~/.kube/config. */
export function kubeConfigForContext(context: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromDefault();
  if (config.getContextObject(context) === null) {
    const known = config.getContexts().map((candidate) => candidate.name);
    throw new Error(
      `no kubeconfig context "${context}"; the contexts are ${known.length === 0 ? "none" : known.join(", ")}`,
    );
  }
  config.setCurrentContext(context);
  return config;
}

/** A kubeconfig with one context reaching `server` with a bearer token (tests, in-cluster proxies). */
export function kubeConfigForServer(server: string, token: string, namespace?: string): KubeConfig {
  const config = new KubeConfig();
  // The client refuses plain http unless TLS verification is off; with http there is no TLS
  // to verify, and for https the certificate is still checked.
  const plainHttp = new URL(server).protocol === "http:";
  config.loadFromOptions({
    clusters: [{ name: "waybill", server, skipTLSVerify: plainHttp }],
    users: [{ name: "waybill", token }],
    contexts: [{ name: "waybill", cluster: "waybill", user: "waybill", ...(namespace ? { namespace } : {}) }],
    currentContext: "waybill",
  });
  return config;
}

export function objectApi(config: KubeConfig): KubernetesObjectApi {
  return KubernetesObjectApi.makeApiClient(config);
}

/** A deploy that the cluster refused or that did not roll out; the message is the cluster's. */
export class KubeApplyError extends Error {
  constructor(
    message: string,
    readonly reason: "dry-run-rejected" | "apply-rejected" | "rollout-failed" | "rollout-timeout",
    /** Whether the previous manifests were applied again */
    readonly restoredPrevious: boolean,
  ) {
    super(message);
    this.name = "KubeApplyError";
  }
}

/** The API server's own explanation from a failed request, else the error's message. */
export function apiServerMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    if (typeof body === "string") {
      try {
        const status: unknown = JSON.parse(body);
        if (typeof status === "object" && status !== null && "message" in status) {
          return `${String(status.message)} (HTTP ${error.code})`;
        }
      } catch {
        return `${body} (HTTP ${error.code})`;
      }
    }
    return `HTTP ${error.code} from the API server`;
  }
  return error instanceof Error ? error.message : String(error);
}

function describe(object: K8sObject): string {
  const namespace = object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`;
  return `${object.kind} ${namespace}${object.metadata.name}`;
}

/**
 * The client fills in a missing namespace on the object it is given, so every call gets a
 * copy: the caller's rendered objects stay as rendered.
 */
function copyOf(object: K8sObject): KubernetesObject {
  return structuredClone(object);
}

async function applyOne(api: KubernetesObjectApi, object: K8sObject, dryRun: boolean): Promise<void> {
  await api.patch(
    copyOf(object),
    undefined,
    dryRun ? "All" : undefined,
    fieldManager,
    true,
    PatchStrategy.ServerSideApply,
  );
}

/**
 * Dry-runs every object first, so admission webhooks, quotas and immutable fields fail the
 * deploy before anything changed; then applies them in order.
 */
export async function applyObjects(api: KubernetesObjectApi, objects: K8sObject[]): Promise<void> {
  for (const object of objects) {
    try {
      await applyOne(api, object, true);
    } catch (error) {
      throw new KubeApplyError(
        `the API server rejected ${describe(object)} in a dry run: ${apiServerMessage(error)}`,
        "dry-run-rejected",
        false,
      );
    }
  }
  for (const object of objects) {
    try {
      await applyOne(api, object, false);
    } catch (error) {
      throw new KubeApplyError(
        `the API server rejected ${describe(object)}: ${apiServerMessage(error)}`,
        "apply-rejected",
        false,
      );
    }
  }
}

/** Deletes the objects; one that is already gone counts as deleted. */
export async function deleteObjects(api: KubernetesObjectApi, objects: K8sObject[]): Promise<void> {
  for (const object of objects) {
    try {
      await api.delete(copyOf(object));
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) continue;
      throw new Error(`could not delete ${describe(object)}: ${apiServerMessage(error)}`);
    }
  }
}

/** The live object, or undefined when the cluster has none by that name. */
export async function readObject<T extends KubernetesObject>(
  api: KubernetesObjectApi,
  object: Pick<K8sObject, "apiVersion" | "kind" | "metadata">,
): Promise<T | undefined> {
  try {
    return await api.read<T>({
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { ...object.metadata },
    });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw new Error(`could not read ${object.kind} ${object.metadata.name}: ${apiServerMessage(error)}`);
  }
}

export interface RolloutWaitOptions {
  timeoutMs: number;
  /** How often to read the Deployments; default 1 s */
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

export type RolloutOutcome =
  { state: "done" } | { state: "failed"; message: string } | { state: "timeout"; message: string };

function rolloutView(deployment: V1Deployment, name: string): DeploymentRolloutView {
  return {
    metadata: { name, generation: deployment.metadata?.generation },
    spec: { replicas: deployment.spec?.replicas },
    status: {
      observedGeneration: deployment.status?.observedGeneration,
      replicas: deployment.status?.replicas,
      updatedReplicas: deployment.status?.updatedReplicas,
      availableReplicas: deployment.status?.availableReplicas,
      conditions: deployment.status?.conditions?.map((condition) => ({
        type: condition.type,
        status: condition.status,
        reason: condition.reason,
        message: condition.message,
      })),
    },
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Polls every Deployment among `objects` until all rolled out, one failed, or time ran out. */
export async function waitForRollout(
  api: KubernetesObjectApi,
  objects: K8sObject[],
  options: RolloutWaitOptions,
): Promise<RolloutOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  let pending = objects.filter((object) => object.kind === "Deployment");
  const lastStatus = new Map<string, RolloutStatus>();
  for (;;) {
    const stillPending: K8sObject[] = [];
    for (const object of pending) {
      const live = await readObject<V1Deployment>(api, object);
      const status: RolloutStatus =
        live === undefined
          ? {
              state: "waiting",
              reason: "spec-not-observed",
              message: `${describe(object)} does not exist yet`,
            }
          : rolloutStatus(rolloutView(live, object.metadata.name));
      if (status.state === "failed") return { state: "failed", message: status.message };
      if (status.state === "waiting") {
        lastStatus.set(object.metadata.name, status);
        stillPending.push(object);
      }
    }
    pending = stillPending;
    if (pending.length === 0) return { state: "done" };
    if (Date.now() >= deadline) {
      const waiting = pending.map((object) => lastStatus.get(object.metadata.name)?.message).join("; ");
      return {
        state: "timeout",
        message: `the rollout did not finish within ${options.timeoutMs} ms: ${waiting}`,
      };
    }
    await sleep(
      Math.min(options.pollIntervalMs ?? 1_000, Math.max(0, deadline - Date.now())),
      options.signal,
    );
  }
}

export interface ApplyAndWaitOptions extends RolloutWaitOptions {
  /** Applied again when the rollout fails, so the cluster runs what it ran before */
  previous?: K8sObject[];
}

/**
 * Applies the objects and waits for their rollout. A failed or stuck rollout re-applies
 * `previous` (without waiting for it: the caller's rollback does) and throws with the reason.
 */
export async function applyAndWait(
  api: KubernetesObjectApi,
  objects: K8sObject[],
  options: ApplyAndWaitOptions,
): Promise<void> {
  await applyObjects(api, objects);
  const outcome = await waitForRollout(api, objects, options);
  if (outcome.state === "done") return;
  let restored = false;
  let restoreProblem = "";
  if (options.previous !== undefined && options.previous.length > 0) {
    try {
      await applyObjects(api, options.previous);
      restored = true;
    } catch (error) {
      restoreProblem = `; re-applying the previous manifests failed too: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  throw new KubeApplyError(
    `${outcome.message}${restored ? "; the previous manifests were applied again" : ""}${restoreProblem}`,
    outcome.state === "failed" ? "rollout-failed" : "rollout-timeout",
    restored,
  );
}
