/**
 * A TEST DOUBLE of the Kubernetes API server, for tests only: an in-process HTTP server on
 * 127.0.0.1 that speaks the small subset Waybill's kube client uses, so deploy, rollout
 * waiting and rollback can be tested without a cluster. It is not a Kubernetes: there are no
 * controllers, no pods, no field ownership and no schema validation.
 *
 * What it serves: discovery (`GET /api/v1`, `GET /apis/<group>/<version>`), server-side apply
 * (`PATCH` with `application/apply-patch+yaml`, `fieldManager` required, `dryRun=All` honoured),
 * `GET` and `DELETE` of one object. Objects live in memory; `metadata.generation` goes up when
 * the spec changes. A Deployment's status is what the test scripts with `scriptRollout`; an
 * unscripted spec change rolls out at once. Every request needs `Authorization: Bearer <token>`.
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
}

const resources: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  v1: [
    { name: "services", kind: "Service", namespaced: true },
    { name: "configmaps", kind: "ConfigMap", namespaced: true },
    { name: "namespaces", kind: "Namespace", namespaced: false },
  ],
  "apps/v1": [{ name: "deployments", kind: "Deployment", namespaced: true }],
  "gateway.networking.k8s.io/v1": [{ name: "httproutes", kind: "HTTPRoute", namespaced: true }],
  "networking.istio.io/v1": [{ name: "virtualservices", kind: "VirtualService", namespaced: true }],
};

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
  private resourceVersion = 1;
  private server: Server | undefined;

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
    this.requests.push({
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType,
      body: text === "" ? undefined : (parse(text) as unknown),
    });
    if (request.headers.authorization !== `Bearer ${this.token}`) {
      return this.sendStatus(response, 401, "Unauthorized", "Unauthorized");
    }
    const discovery = /^\/(api\/v1|apis\/[^/]+\/[^/]+)$/.exec(url.pathname);
    if (request.method === "GET" && discovery?.[1] !== undefined) {
      const groupVersion = discovery[1].replace(/^apis?\//, "");
      const list = resources[groupVersion];
      if (list === undefined)
        return this.sendStatus(response, 404, "NotFound", "the server could not find the requested resource");
      return this.send(response, 200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion,
        resources: list.map((resource) => ({
          ...resource,
          singularName: "",
          verbs: ["get", "patch", "delete"],
        })),
      });
    }
    const match = objectPath.exec(url.pathname);
    const groupVersion = match?.[1]?.replace(/^apis?\//, "");
    const resource = resources[groupVersion ?? ""]?.find((candidate) => candidate.name === match?.[3]);
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
    this.objects.set(target.key, { object, key: target.key });
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
