/**
 * The Kubernetes target, `kube:<context>[/<namespace>]`: the artifact is an image pinned by
 * digest (run.image, else build.image), rendered by `renderStage` and put on the cluster by
 * server-side apply, each step waiting for the rollout the way `kubectl rollout status` does.
 *
 * - direct: deploy makes the new version live; release re-applies the same (idempotent).
 * - blue-green: deploy fills the slot the Service does not point at; release switches the
 *   Service and scales the old slot to 0; rollback points it back and removes the new slot.
 * - canary: deploy runs the canary at the first step's weight beside the stable track;
 *   release applies the promoted state (stable runs the new version, canary at 0 replicas).
 *
 * The artifact is the image itself: its pinned reference is the artifact's path, for this
 * release and the previous one.
 *
 * Health is the rollout itself: pods pass their readiness probe (an HTTP GET of run.health)
 * before they count as available. Waybill cannot measure pods or see their traffic from
 * outside the cluster, so measurements are empty and canary steps are not judged per version;
 * load tests go to the stage's `testUrl` (an Ingress, a LoadBalancer or a port-forward).
 *
 * With `gitops` on the stage, git holds what each stage releases: one commit per run, the
 * release's manifests, made before release applies them. The steps before (the new slot, the
 * canary weights) are Waybill's own and are applied, not committed, so a run that fails its
 * gate leaves no trace in git; one that fails after committing has its commit reverted. With
 * `apply: false` Waybill commits and applies nothing: a GitOps controller syncs the commit.
 */
import type { KubeConfig, KubernetesObjectApi, V1Deployment, V1Service } from "@kubernetes/client-node";
import {
  applyAndWait,
  deleteObjects,
  kubeConfigForContext,
  objectApi,
  readObject,
  waitForRollout,
} from "../kube/apply.js";
import { commitManifests, revertRunCommit } from "../kube/gitops.js";
import {
  manifestsYaml,
  renderStage,
  type K8sObject,
  type LiveRelease,
  type RenderOptions,
  type Slot,
} from "../kube/render.js";
import { stageTargets, testUrlFor } from "../spec/schema.js";
import { parseDuration } from "../spec/units.js";
import type { Store } from "../store/store.js";
import type { CanaryTraffic, SizingLab, Target, TargetContext, TargetMeasurement } from "./target.js";
import { UserError } from "../errors.js";
import { usesAuto } from "../spec/resources.js";

/** On blue-green Deployments: the run whose release the slot holds, so retries find their slot. */
export const runIdAnnotation = "waybill.dev/run-id";

export interface KubeTargetOptions {
  /** Where the previous release's image is found: the spec stored with its artifact */
  artifacts: Pick<Store, "getArtifact">;
  /** The client configuration for a kubeconfig context; default $KUBECONFIG / ~/.kube/config */
  kubeConfig?: (context: string) => KubeConfig;
  /** How long one rollout may take; default 10 minutes */
  rolloutTimeoutMs?: number;
  /** How often a rollout is polled; default 1 s */
  pollIntervalMs?: number;
  /** Committer of GitOps commits; default the repository's git configuration */
  gitIdentity?: { name: string; email: string };
  /** Where GitOps repositories given by URL are cloned; default gitops.ts's, in the temp dir */
  gitopsCheckouts?: string;
}

/** `kube:<context>[/<namespace>]` split into its parts. */
export function parseKubeTargetName(name: string): { context: string; namespace: string | undefined } {
  const match = /^kube:([^/\s]+)(?:\/([a-z0-9]([-a-z0-9]*[a-z0-9])?))?$/.exec(name);
  if (match?.[1] === undefined) throw new Error(`"${name}" is not a kube:<context>[/<namespace>] target`);
  return { context: match[1], namespace: match[2] };
}

interface PreviousRelease extends LiveRelease {
  runId: string;
}

function otherSlot(slot: Slot): Slot {
  return slot === "blue" ? "green" : "blue";
}

export class KubeTarget implements Target {
  private readonly context: string;
  private readonly namespace: string | undefined;
  private client: KubernetesObjectApi | undefined;

  constructor(
    readonly name: string,
    private readonly options: KubeTargetOptions,
  ) {
    ({ context: this.context, namespace: this.namespace } = parseKubeTargetName(name));
  }

  async deploy(context: TargetContext): Promise<void> {
    if (!this.applies(context)) return;
    const previous = await this.previousRelease(context);
    const restore = previous === undefined ? undefined : await this.previousManifests(context, previous);
    await this.apply(context, await this.deployedManifests(context, previous), restore);
  }

  async checkHealth(context: TargetContext): Promise<void> {
    if (!this.applies(context)) return;
    const objects = await this.deployedManifests(context, await this.previousRelease(context));
    const outcome = await waitForRollout(this.api(), objects, {
      timeoutMs: parseDuration(context.spec.run.healthTimeout),
      pollIntervalMs: this.options.pollIntervalMs,
      signal: context.signal,
    });
    if (outcome.state !== "done") throw new Error(`${this.name}: ${outcome.message}`);
  }

  async release(context: TargetContext): Promise<void> {
    const objects = await this.releasedManifests(context);
    const gitops = context.stage.gitops;
    if (gitops !== undefined) {
      await commitManifests(
        gitops,
        {
          ...this.gitopsFile(context),
          yaml: manifestsYaml(objects),
          digest: context.artifact.digest,
          runId: context.run.id,
          ...(this.options.gitIdentity === undefined ? {} : { identity: this.options.gitIdentity }),
        },
        this.options.gitopsCheckouts,
      );
    }
    if (this.applies(context)) await this.apply(context, objects);
  }

  async rollback(context: TargetContext): Promise<void> {
    const gitops = context.stage.gitops;
    if (gitops !== undefined) {
      await revertRunCommit(
        gitops,
        this.gitopsFile(context),
        context.run.id,
        this.options.gitIdentity,
        this.options.gitopsCheckouts,
      );
    }
    if (!this.applies(context)) return;
    const previous = await this.previousRelease(context);
    const current = await this.deployedManifests(context, previous);
    if (previous === undefined) {
      await deleteObjects(this.api(), current);
      return;
    }
    const restored = await this.previousManifests(context, previous);
    await this.apply(context, restored);
    const restoredNames = new Set(restored.map((object) => `${object.kind}/${object.metadata.name}`));
    await deleteObjects(
      this.api(),
      current.filter((object) => !restoredNames.has(`${object.kind}/${object.metadata.name}`)),
    );
  }

  testEndpoint(context: TargetContext): { url: string; headers: Record<string, string> } {
    const url = testUrlFor(context.stage, this.name);
    if (url === undefined) {
      throw new Error(
        `${this.name}: load tests against a cluster need a URL reachable from Waybill (an Ingress, a ` +
          `LoadBalancer or a port-forward to the Service): set testUrl on stage ${context.stage.name}`,
      );
    }
    return { url, headers: {} };
  }

  /** A cluster's live version is not reachable apart through one URL here: the gate compares with history. */
  baselineEndpoint(): undefined {
    return undefined;
  }

  async startMeasurement(_context: TargetContext): Promise<{ stop(): Promise<TargetMeasurement> }> {
    return { stop: async () => ({ process: null, baselineProcess: null, latencySamplesMs: [] }) };
  }

  async setCanaryWeight(
    context: TargetContext,
    weight: number,
  ): Promise<{ observe(): Promise<CanaryTraffic> }> {
    const previous = await this.previousRelease(context);
    // Without a previous release there is no stable track to split with: deploy already
    // gave the new version all the traffic.
    if (previous !== undefined && context.stage.strategy === "canary" && this.applies(context)) {
      await this.apply(
        context,
        this.render(context, this.releaseImage(context), context.run.version, {
          canaryWeight: weight,
          previous,
        }),
      );
    }
    return { observe: async () => ({ stable: null, canary: null }) };
  }

  /** A pod's runtime is out of sight from outside the cluster, as its usage is. */
  runtimeLimits(): Promise<null> {
    return Promise.resolve(null);
  }

  /** The mesh's plaintext hop is inside the pod: the split of the two paths runs on local stages only. */
  plainPath(): null {
    return null;
  }

  /** So are the files a pod's process loads. */
  dependencyUsage(): Promise<null> {
    return Promise.resolve(null);
  }

  /**
   * Rightsizing runs where Waybill sizes and measures the processes itself: on a local stage.
   * From outside a cluster it can neither measure pods nor set a pod's limits for one trial.
   */
  sizingLab(): Promise<SizingLab> {
    return Promise.reject(
      new UserError(
        `${this.name} is a Kubernetes target: Waybill cannot measure its pods from outside the cluster, so rightsizing runs on a local stage. Run \`waybill rightsize <service> --stage <a local stage>\`, and render this stage with \`resources: {cpu: auto, memory: auto}\` to use that recommendation`,
      ),
    );
  }

  url(): string | undefined {
    return undefined;
  }

  private api(): KubernetesObjectApi {
    this.client ??= objectApi((this.options.kubeConfig ?? kubeConfigForContext)(this.context));
    return this.client;
  }

  private releaseImage(context: TargetContext): string {
    return context.artifact.path;
  }

  private render(
    context: TargetContext,
    image: string,
    version: string,
    options: Omit<RenderOptions, "image" | "version" | "namespace">,
  ): K8sObject[] {
    if (usesAuto(context.spec) && context.recommendation === null) {
      throw new UserError(
        `resources say auto, and no rightsizing recommendation is recorded for ${context.run.service} ${context.run.version}: ship it through a local stage with \`rightsize: true\` first, or run \`waybill rightsize ${context.run.service} --stage <a local stage>\` on it, or declare cpu and memory`,
      );
    }
    return renderStage(context.spec, context.stage.name, {
      ...options,
      recommendation: context.recommendation,
      image,
      version,
      ...(this.namespace === undefined ? {} : { namespace: this.namespace }),
    }).objects;
  }

  /** The release live before this run, with the image its stored artifact names. */
  private async previousRelease(context: TargetContext): Promise<PreviousRelease | undefined> {
    const previous = context.previous;
    if (previous === undefined) return undefined;
    const artifact = await this.options.artifacts.getArtifact(previous.service, previous.digest);
    if (artifact === undefined) return undefined;
    return {
      version: previous.version,
      image: artifact.path,
      runId: previous.runId,
    };
  }

  /** What deploy applies: the new version beside the live one, as the strategy keeps them. */
  private async deployedManifests(
    context: TargetContext,
    previous: PreviousRelease | undefined,
  ): Promise<K8sObject[]> {
    const image = this.releaseImage(context);
    const version = context.run.version;
    switch (context.stage.strategy) {
      case "direct":
        return this.render(context, image, version, {});
      case "blue-green": {
        const slot = await this.newSlot(context);
        const objects = this.render(context, image, version, {
          slot,
          ...(previous === undefined ? {} : { activeSlot: otherSlot(slot), previous }),
        });
        this.annotateSlots(context, objects, slot, previous);
        return objects;
      }
      case "canary": {
        if (previous === undefined) return this.render(context, image, version, {});
        const firstStep = context.stage.canary?.steps[0] ?? 10;
        return this.render(context, image, version, { canaryWeight: firstStep, previous });
      }
    }
  }

  /** The previous release alone, serving all traffic, as it was before this run. */
  private async previousManifests(context: TargetContext, previous: PreviousRelease): Promise<K8sObject[]> {
    if (context.stage.strategy !== "blue-green") {
      return this.render(context, previous.image, previous.version, {});
    }
    const slot = otherSlot(await this.newSlot(context));
    const objects = this.render(context, previous.image, previous.version, { slot, activeSlot: slot });
    for (const object of objects) {
      if (object.kind === "Deployment") this.annotate(object, previous.runId);
    }
    return objects;
  }

  private slotDeploymentName(context: TargetContext, slot: Slot): string {
    return `${context.spec.metadata.name}-${slot}`;
  }

  private annotate(object: K8sObject, runId: string): void {
    object.metadata.annotations = { ...object.metadata.annotations, [runIdAnnotation]: runId };
  }

  private annotateSlots(
    context: TargetContext,
    objects: K8sObject[],
    slot: Slot,
    previous: PreviousRelease | undefined,
  ): void {
    for (const object of objects) {
      if (object.kind !== "Deployment") continue;
      if (object.metadata.name === this.slotDeploymentName(context, slot))
        this.annotate(object, context.run.id);
      else if (previous !== undefined) this.annotate(object, previous.runId);
    }
  }

  /**
   * The blue-green slot of this run: the one already holding it (a retried task), else the
   * one the Service does not point at, else blue. Read from the cluster, so the answer is
   * the same before and after a crash.
   */
  private async newSlot(context: TargetContext): Promise<Slot> {
    const slots: Slot[] = ["blue", "green"];
    for (const slot of slots) {
      const deployment = await readObject<V1Deployment>(
        this.api(),
        this.objectRef(context, "apps/v1", "Deployment", this.slotDeploymentName(context, slot)),
      );
      if (deployment?.metadata?.annotations?.[runIdAnnotation] === context.run.id) return slot;
    }
    const service = await readObject<V1Service>(
      this.api(),
      this.objectRef(context, "v1", "Service", context.spec.metadata.name),
    );
    const active = service?.spec?.selector?.["waybill.dev/slot"];
    return active === "blue" || active === "green" ? otherSlot(active) : "blue";
  }

  private objectRef(context: TargetContext, apiVersion: string, kind: string, name: string): K8sObject {
    return {
      apiVersion,
      kind,
      metadata: { name, ...(this.namespace === undefined ? {} : { namespace: this.namespace }) },
    };
  }

  /** False when a GitOps controller, not Waybill, applies the stage's manifests. */
  private applies(context: TargetContext): boolean {
    return context.stage.gitops?.apply !== false;
  }

  /** A stage of several clusters keeps one file per cluster, named by context and namespace. */
  private gitopsFile(context: TargetContext): { stage: string; cluster?: string } {
    if (stageTargets(context.stage).length < 2) return { stage: context.stage.name };
    const cluster = this.namespace === undefined ? this.context : `${this.context}.${this.namespace}`;
    return { stage: context.stage.name, cluster };
  }

  /**
   * What the stage runs once released: blue-green's Service on the new slot with the old
   * slot scaled to 0; direct and canary the promoted state (the canary track at 0 replicas).
   */
  private async releasedManifests(context: TargetContext): Promise<K8sObject[]> {
    const image = this.releaseImage(context);
    if (context.stage.strategy !== "blue-green") return this.render(context, image, context.run.version, {});
    const previous = await this.previousRelease(context);
    const slot = await this.newSlot(context);
    const objects = this.render(context, image, context.run.version, {
      slot,
      activeSlot: slot,
      ...(previous === undefined ? {} : { previous }),
    });
    const retired = this.slotDeploymentName(context, otherSlot(slot));
    for (const object of objects) {
      if (object.kind === "Deployment" && object.metadata.name === retired) {
        (object.spec as { replicas: number }).replicas = 0;
      }
    }
    this.annotateSlots(context, objects, slot, previous);
    return objects;
  }

  /** Applies the manifests and waits for their rollout; `restore` is put back if it fails. */
  private async apply(context: TargetContext, objects: K8sObject[], restore?: K8sObject[]): Promise<void> {
    await applyAndWait(this.api(), objects, {
      timeoutMs: this.options.rolloutTimeoutMs ?? 600_000,
      pollIntervalMs: this.options.pollIntervalMs,
      signal: context.signal,
      ...(restore === undefined ? {} : { previous: restore }),
    });
  }
}
