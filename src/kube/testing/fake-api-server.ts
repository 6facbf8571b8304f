/**
 * A TEST DOUBLE of the Kubernetes API server, for tests only: an in-process HTTP server on
 * 127.0.0.1 that speaks the small subset Waybill's kube client uses, so deploy, rollout
 * waiting, rollback and `upgrade-check --live` can be tested without a cluster. It is not a
 * Kubernetes: there are no controllers, no pods, no field ownership, no conversion and no schema
 * validation.
 *
 * What it serves: discovery (`GET /apis`, `GET /api/v1`, `GET /apis/<group>/<version>`) of the
 * group versions the test picks (`served`, from a fixed catalog: apps, extensions, policy,
 * networking.k8s.io, batch, autoscaling, flowcontrol.apiserver.k8s.io, … in their old and current
 * versions; the default is what the deploy tests need), server-side apply (`PATCH` with
 * `application/apply-patch+yaml`, `fieldManager` required, `dryRun=All` honoured), `GET` and
 * `DELETE` of one object, and lists (`GET /apis/<g>/<v>/<resource>` across namespaces or
 * `…/namespaces/<ns>/<resource>`, answered as `kind: <Kind>List` with `limit`/`continue` paging).
 * Objects live in memory, keyed by kind, namespace and name, so every served version of a kind
 * sees the same objects, as the real server's shared storage does (extensions/v1beta1 and apps/v1
 * Deployments). List items carry no apiVersion or kind, as the real server sends them; `seed`
 * stores an object as given (annotations, managedFields). `metadata.generation` goes up when the
 * spec changes. A Deployment's status is what the test scripts with `scriptRollout`; an
 * unscripted spec change rolls out at once. Every request needs `Authorization: Bearer <token>`;
 * `forbid` answers chosen requests 403.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parse } from "yaml";
import type { K8sObject } from "../render.js";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** The parsed body, for PATCH */
  body: unknown;
}

/** One step of a scripted rollout, `afterMs` after the spec change that starts it. */
export interface RolloutStep {
  afterMs: number;
  phase: "progressing" | "available" | "stalled";
}

interface StoredObject {
  object: K8sObject & { status?: Record<string, unknown> };
  key: string;
  kind: string;
  /** "" for a cluster-scoped object */
  namespace: string;
}

interface FakeResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

const crud = ["create", "delete", "get", "list", "patch", "update"];
const namespaced = (name: string, kind: string): FakeResource => ({
  name,
  kind,
  namespaced: true,
  verbs: crud,
});
const clusterScoped = (name: string, kind: string): FakeResource => ({
  name,
  kind,
  namespaced: false,
  verbs: crud,
});
const deployments = namespaced("deployments", "Deployment");
const statefulSets = namespaced("statefulsets", "StatefulSet");
const daemonSets = namespaced("daemonsets", "DaemonSet");
const replicaSets = namespaced("replicasets", "ReplicaSet");
const ingresses = namespaced("ingresses", "Ingress");
const networkPolicies = namespaced("networkpolicies", "NetworkPolicy");
const ingressClasses = clusterScoped("ingressclasses", "IngressClass");
const podSecurityPolicies = clusterScoped("podsecuritypolicies", "PodSecurityPolicy");
const podDisruptionBudgets = namespaced("poddisruptionbudgets", "PodDisruptionBudget");
const cronJobs = namespaced("cronjobs", "CronJob");
const autoscalers = namespaced("horizontalpodautoscalers", "HorizontalPodAutoscaler");
const flowControl = [
  clusterScoped("flowschemas", "FlowSchema"),
  clusterScoped("prioritylevelconfigurations", "PriorityLevelConfiguration"),
];
/** As in real discovery, a subresource is listed after its resource, with the same kind. */
const status = (resource: FakeResource): FakeResource => ({
  ...resource,
  name: `${resource.name}/status`,
  verbs: ["get", "patch", "update"],
});

/** Every group version the fake can serve, with the resources it has (a subset of the real ones). */
const catalog: Record<string, FakeResource[]> = {
  v1: [
    namespaced("services", "Service"),
    namespaced("configmaps", "ConfigMap"),
    clusterScoped("namespaces", "Namespace"),
  ],
  "apps/v1": [deployments, status(deployments), statefulSets, daemonSets, replicaSets],
  "apps/v1beta1": [deployments, statefulSets],
  "apps/v1beta2": [deployments, statefulSets, daemonSets, replicaSets],
  "extensions/v1beta1": [
    deployments,
    daemonSets,
    replicaSets,
    ingresses,
    networkPolicies,
    podSecurityPolicies,
  ],
  "networking.k8s.io/v1": [ingresses, networkPolicies, ingressClasses],
  "networking.k8s.io/v1beta1": [ingresses, ingressClasses],
  "policy/v1": [podDisruptionBudgets],
  "policy/v1beta1": [podDisruptionBudgets, podSecurityPolicies],
  "batch/v1": [namespaced("jobs", "Job"), cronJobs],
  "batch/v1beta1": [cronJobs],
  "autoscaling/v1": [autoscalers],
  "autoscaling/v2": [autoscalers],
  "autoscaling/v2beta1": [autoscalers],
  "autoscaling/v2beta2": [autoscalers],
  "flowcontrol.apiserver.k8s.io/v1": flowControl,
  "flowcontrol.apiserver.k8s.io/v1beta1": flowControl,
  "flowcontrol.apiserver.k8s.io/v1beta2": flowControl,
  "flowcontrol.apiserver.k8s.io/v1beta3": flowControl,
  "authentication.k8s.io/v1": [
    { name: "tokenreviews", kind: "TokenReview", namespaced: false, verbs: ["create"] },
  ],
  "gateway.networking.k8s.io/v1": [namespaced("httproutes", "HTTPRoute")],
  "networking.istio.io/v1": [namespaced("virtualservices", "VirtualService")],
};

/** What the deploy tests need: core, apps, Gateway API and Istio. */
const deployGroupVersions = ["v1", "apps/v1", "gateway.networking.k8s.io/v1", "networking.istio.io/v1"];

export interface FakeApiServerOptions {
  /**
   * The group versions discovery shows and requests may use, from the catalog; a group's first
   * version here is its preferred one. Default `deployGroupVersions`.
   */
  served?: string[];
}

/** One managedFields entry, as the API server records a writer. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time?: string;
  subresource?: string;
}

/** An object as a test seeds it, with the records a real client would have left. */
export interface SeedObject extends K8sObject {
  metadata: K8sObject["metadata"] & { managedFields?: ManagedFieldsEntry[] };
}

const listPath = /^\/(api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)$/;
const objectPath = /^\/(api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)\/([^/]+)$/;
export class FakeApiServer {
  readonly token = "fake-api-server-token";
  /** Every request the server answered, in order */
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, StoredObject>();
  private readonly scripts = new Map<string, RolloutStep[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Objects this returns a message for are refused with 422 (dry run or not), as admission would */
  rejectWith: ((object: K8sObject) => string | undefined) | undefined;
  /** Requests this returns true for are refused with 403, as RBAC would */
  forbid: ((request: RecordedRequest) => boolean) | undefined;
  private readonly served: Map<string, FakeResource[]>;
  private resourceVersion = 1;
  private server: Server | undefined;

  constructor(options: FakeApiServerOptions = {}) {
    const served = options.served ?? deployGroupVersions;
    this.served = new Map(
      served.map((groupVersion) => {
        const resources = catalog[groupVersion];
        if (resources === undefined) throw new Error(`the fake API server has no ${groupVersion} to serve`);
        return [groupVersion, resources];
      }),
    );
  }

  /** Starts listening on an ephemeral port of 127.0.0.1 and returns the server URL. */
  async start(): Promise<string> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        this.sendStatus(response, 500, "InternalError", String(error));
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error("the fake API server is not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next spec change of Deployment `name` rolls out through these steps instead of at once. */
  scriptRollout(name: string, steps: RolloutStep[]): void {
    this.scripts.set(name, steps);
  }

  /** The stored object, status included. */
  get(kind: string, name: string, namespace = "default"): (K8sObject & { status?: unknown }) | undefined {
    return this.objects.get(`${kind}/${namespace}/${name}`)?.object;
  }

  /**
   * Stores the object as given, as if some client had written it: the test decides its
   * annotations and managedFields. A namespaced kind without a namespace goes to "default".
   */
  seed(object: SeedObject): void {
    const scoped = Object.values(catalog)
      .flat()
      .find((resource) => resource.kind === object.kind);
    if (scoped === undefined) throw new Error(`the fake API server has no kind ${object.kind}`);
    const namespace = scoped.namespaced ? (object.metadata.namespace ?? "default") : "";
    const key = `${object.kind}/${namespace}/${object.metadata.name}`;
    this.resourceVersion += 1;
    const stored = {
      ...structuredClone(object),
      metadata: {
        ...structuredClone(object.metadata),
        ...(namespace === "" ? {} : { namespace }),
        resourceVersion: String(this.resourceVersion),
      },
    };
    this.objects.set(key, { object: stored, key, kind: object.kind, namespace });
  }

  /** The applies that changed state (`dryRun: false`) or only checked (`dryRun: true`). */
  applies(options: { dryRun: boolean }): RecordedRequest[] {
    return this.requests.filter(
      (request) => request.method === "PATCH" && (request.query.dryRun === "All") === options.dryRun,
    );
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake");
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const contentType = request.headers["content-type"];
    const recorded: RecordedRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType,
      body: text === "" ? undefined : (parse(text) as unknown),
    };
    this.requests.push(recorded);
    if (request.headers.authorization !== `Bearer ${this.token}`) {
      return this.sendStatus(response, 401, "Unauthorized", "Unauthorized");
    }
    if (this.forbid?.(recorded)) {
      return this.sendStatus(
        response,
        403,
        "Forbidden",
        `${request.method ?? ""} ${url.pathname} is forbidden`,
      );
    }
    if (request.method === "GET" && url.pathname === "/apis")
      return this.send(response, 200, this.groupList());
    const discovery = /^\/(api\/v1|apis\/[^/]+\/[^/]+)$/.exec(url.pathname);
    if (request.method === "GET" && discovery?.[1] !== undefined) {
      const groupVersion = discovery[1].replace(/^apis?\//, "");
      const list = this.served.get(groupVersion);
      if (list === undefined)
        return this.sendStatus(response, 404, "NotFound", "the server could not find the requested resource");
      return this.send(response, 200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion,
        resources: list.map((resource) => ({ ...resource, singularName: "" })),
      });
    }
    const listing = listPath.exec(url.pathname);
    if (listing !== null) {
      const groupVersion = listing[1]?.replace(/^apis?\//, "") ?? "";
      const resource = this.served.get(groupVersion)?.find((candidate) => candidate.name === listing[3]);
      if (resource === undefined)
        return this.sendStatus(response, 404, "NotFound", "the server could not find the requested resource");
      if (request.method !== "GET")
        return this.sendStatus(
          response,
          405,
          "MethodNotAllowed",
          `${request.method ?? ""} is not served here`,
        );
      return this.list(response, url, groupVersion, resource, listing[2]);
    }
    const match = objectPath.exec(url.pathname);
    const groupVersion = match?.[1]?.replace(/^apis?\//, "");
    const resource = this.served.get(groupVersion ?? "")?.find((candidate) => candidate.name === match?.[3]);
    if (match === null || resource === undefined || match[4] === undefined) {
      return this.sendStatus(response, 404, "NotFound", "the server could not find the requested resource");
    }
    const namespace = match[2] ?? "";
    const name = decodeURIComponent(match[4]);
    const key = `${resource.kind}/${namespace}/${name}`;
    const notFound = `${resource.name}${groupVersion?.includes("/") ? `.${groupVersion.split("/")[0]}` : ""} "${name}" not found`;
    switch (request.method) {
      case "GET": {
        const stored = this.objects.get(key);
        return stored === undefined
          ? this.sendStatus(response, 404, "NotFound", notFound)
          : this.send(response, 200, stored.object);
      }
      case "DELETE": {
        if (!this.objects.delete(key)) return this.sendStatus(response, 404, "NotFound", notFound);
        return this.send(response, 200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
      case "PATCH":
        return this.apply(response, url, contentType, text, { key, name, namespace, kind: resource.kind });
      default:
        return this.sendStatus(
          response,
          405,
          "MethodNotAllowed",
          `${request.method ?? ""} is not served here`,
        );
    }
  }

  /** `GET /apis`: each served group with its versions in the order given, the first preferred. */
  private groupList() {
    const groups = new Map<string, { groupVersion: string; version: string }[]>();
    for (const groupVersion of this.served.keys()) {
      const [group, version] = groupVersion.split("/");
      if (group === undefined || version === undefined) continue;
      groups.set(group, [...(groups.get(group) ?? []), { groupVersion, version }]);
    }
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: [...groups].map(([name, versions]) => ({ name, versions, preferredVersion: versions[0] })),
    };
  }

  /** A `<Kind>List` of one page, sorted by namespace and name as etcd keys are. */
  private list(
    response: ServerResponse,
    url: URL,
    groupVersion: string,
    resource: FakeResource,
    namespace: string | undefined,
  ): void {
    const all = [...this.objects.values()]
      .filter((stored) => stored.kind === resource.kind)
      .filter((stored) => namespace === undefined || stored.namespace === decodeURIComponent(namespace))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    // The token is the offset of the next item; a real server's is opaque, and so is this to clients.
    const start = Number(Buffer.from(url.searchParams.get("continue") ?? "", "base64url").toString());
    const limit = Number(url.searchParams.get("limit") ?? 0);
    const end = limit > 0 ? start + limit : all.length;
    const page = all.slice(start, end).map((stored) => {
      const { apiVersion: _apiVersion, kind: _kind, ...fields } = stored.object;
      return fields;
    });
    const rest = end < all.length ? { continue: Buffer.from(String(end)).toString("base64url") } : {};
    this.send(response, 200, {
      kind: `${resource.kind}List`,
      apiVersion: groupVersion,
      metadata: { resourceVersion: String(this.resourceVersion), ...rest },
      items: page,
    });
  }

  private apply(
    response: ServerResponse,
    url: URL,
    contentType: string | undefined,
    text: string,
    target: { key: string; name: string; namespace: string; kind: string },
  ): void {
    if (contentType !== "application/apply-patch+yaml") {
      return this.sendStatus(
        response,
        415,
        "UnsupportedMediaType",
        `this fake serves only server-side apply, not ${contentType ?? "no content type"}`,
      );
    }
    if (!url.searchParams.get("fieldManager")) {
      return this.sendStatus(
        response,
        422,
        "Invalid",
        "fieldManager: Required value: is required for apply patch",
      );
    }
    const applied = parse(text) as K8sObject;
    if (applied.kind !== target.kind || applied.metadata?.name !== target.name) {
      return this.sendStatus(response, 400, "BadRequest", "the object's kind and name do not match the URL");
    }
    const rejection = this.rejectWith?.(applied);
    if (rejection !== undefined) return this.sendStatus(response, 422, "Invalid", rejection);

    const existing = this.objects.get(target.key)?.object;
    const specChanged = JSON.stringify(existing?.spec) !== JSON.stringify(applied.spec);
    const previousGeneration = Number(
      (existing?.metadata as { generation?: number } | undefined)?.generation ?? 0,
    );
    const object: StoredObject["object"] = {
      ...applied,
      metadata: {
        ...applied.metadata,
        namespace: target.namespace,
        generation: specChanged ? previousGeneration + 1 : previousGeneration,
        resourceVersion: String(this.resourceVersion + 1),
      } as K8sObject["metadata"],
      ...(existing?.status === undefined ? {} : { status: existing.status }),
    };
    if (url.searchParams.get("dryRun") === "All") return this.send(response, 200, object);

    this.resourceVersion += 1;
    this.objects.set(target.key, { object, key: target.key, kind: target.kind, namespace: target.namespace });
    if (target.kind === "Deployment" && specChanged) this.startRollout(target.key, target.name);
    this.send(response, 200, object);
  }

  private startRollout(key: string, name: string): void {
    const steps = this.scripts.get(name) ?? [{ afterMs: 0, phase: "available" as const }];
    this.scripts.delete(name);
    for (const step of steps) {
      if (step.afterMs === 0) {
        this.setPhase(key, step.phase);
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.setPhase(key, step.phase);
      }, step.afterMs);
      this.timers.add(timer);
    }
  }

  private setPhase(key: string, phase: RolloutStep["phase"]): void {
    const stored = this.objects.get(key);
    if (stored === undefined) return;
    const metadata = stored.object.metadata as K8sObject["metadata"] & { generation?: number };
    const wanted = Number((stored.object.spec as { replicas?: number } | undefined)?.replicas ?? 1);
    const progressing = (status: string, reason: string, message: string) => ({
      type: "Progressing",
      status,
      reason,
      message,
    });
    const replicaSet = `ReplicaSet "${metadata.name}-${metadata.generation ?? 0}"`;
    const byPhase = {
      progressing: {
        updatedReplicas: 0,
        availableReplicas: 0,
        conditions: [progressing("True", "ReplicaSetUpdated", `${replicaSet} is progressing.`)],
      },
      available: {
        updatedReplicas: wanted,
        availableReplicas: wanted,
        readyReplicas: wanted,
        conditions: [
          { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
          progressing("True", "NewReplicaSetAvailable", `${replicaSet} has successfully progressed.`),
        ],
      },
      stalled: {
        updatedReplicas: wanted,
        availableReplicas: 0,
        conditions: [
          progressing("False", "ProgressDeadlineExceeded", `${replicaSet} has timed out progressing.`),
        ],
      },
    };
    stored.object.status = { observedGeneration: metadata.generation, replicas: wanted, ...byPhase[phase] };
  }

  private send(response: ServerResponse, code: number, body: unknown): void {
    response.writeHead(code, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  }

  private sendStatus(response: ServerResponse, code: number, reason: string, message: string): void {
    this.send(response, code, { kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code });
  }
}
