/**
 * Renders one stage of a waybill.yaml as plain Kubernetes manifests: the Deployments,
 * Services and, for a weighted canary, the route a person would have written by hand.
 *
 * Pure and byte-stable: the same spec and options give the same objects with their keys in
 * the same order, so the YAML can be committed (GitOps) and diffed.
 */
import { stringify } from "yaml";
import { UserError } from "../errors.js";
import type { ServiceSpec, StageSpec } from "../spec/schema.js";
import { stageTargets } from "../spec/schema.js";
import { parseDuration } from "../spec/units.js";
import { resolveResources, type RecordedRecommendation } from "../spec/resources.js";
import { cpuLimitCoresVariable, kubeRuntimeHints, type ResourceLimits } from "./runtime-hints.js";

export interface K8sMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: K8sMetadata;
  [field: string]: unknown;
}

export type Slot = "blue" | "green";

/** A release that is already running in the stage. */
export interface LiveRelease {
  version: string;
  /** An image reference with a digest */
  image: string;
}

export interface RenderOptions {
  /** The human version label of the release being rendered */
  version: string;
  /**
   * The size where `resources` says `auto`: the artifact's recorded rightsizing recommendation.
   * Without one, `auto` renders the default size.
   */
  recommendation?: RecordedRecommendation | null;
  /** The artifact digest (sha256:…); when given it must be the image's digest */
  digest?: string;
  /** An image reference with a digest; default run.image, else build.image */
  image?: string;
  /** Omitted from the objects when undefined, so they land in the kube context's namespace */
  namespace?: string;
  /** blue-green: the slot this release goes to (default blue) */
  slot?: Slot;
  /** blue-green: the slot the Service sends traffic to (default `slot`, i.e. after the switch) */
  activeSlot?: Slot;
  /**
   * canary: the percentage of traffic for this release, 0–100, with `previous` as the stable
   * track. Undefined renders the promoted state: the stable track runs this release.
   */
  canaryWeight?: number;
  /** The release live before this one: the other blue-green slot, the canary's stable track */
  previous?: LiveRelease;
  /** traffic gateway-api: attach the HTTPRoute to this Gateway instead of the Service (mesh) */
  gateway?: { name: string; namespace?: string };
}

export interface RenderedStage {
  objects: K8sObject[];
  yaml: string;
}

/** The port every rendered Service listens on; it forwards to the container's run.port. */
export const servicePort = 80;
const containerPortName = "http";
const startupProbePeriodSeconds = 2;

const digestPattern = /^sha256:[0-9a-f]{64}$/;
const imageDigestPattern = /@(sha256:[0-9a-f]{64})$/;

/** The digest an image reference pins, or a UserError saying how to pin it. */
export function imageDigest(image: string): string {
  const match = imageDigestPattern.exec(image);
  if (match?.[1] === undefined) {
    throw new UserError(
      `the image "${image}" has no digest: a tag can point to a different image the next time a pod ` +
        `starts, so a release must name its image as repository@sha256:<digest>. ` +
        `Get the digest with "docker buildx imagetools inspect ${image}" or "crane digest ${image}" ` +
        `and give it in run.image, build.image or --image.`,
    );
  }
  return match[1];
}

/** A valid label value (at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends). */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

/** Kubernetes spells the decimal kilo "k"; waybill.yaml also accepts "K". */
/** As written, where it was declared; a resolved `auto` in whole MiB. */
function memoryQuantity(declared: string, bytes: number): string {
  return declared === "auto" ? `${Math.ceil(bytes / 2 ** 20)}Mi` : declared.replace(/K$/, "k");
}

function cpuQuantity(millicores: number): string {
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

interface Release {
  version: string;
  image: string;
  digest: string;
}

interface Track {
  /** Deployment name */
  name: string;
  release: Release;
  replicas: number;
  /** Labels that tell this Deployment's pods from the stage's other pods */
  selector: Record<string, string>;
}

interface StageContext {
  spec: ServiceSpec;
  stage: StageSpec;
  namespace: string | undefined;
  limits: ResourceLimits;
  /** Labels every object of the stage carries */
  labels: Record<string, string>;
  /** Selects every pod of the stage, whatever the slot or track */
  stageSelector: Record<string, string>;
}

export function renderStage(spec: ServiceSpec, stageName: string, options: RenderOptions): RenderedStage {
  const stage = spec.stages.find((candidate) => candidate.name === stageName);
  if (stage === undefined) {
    const names = spec.stages.map((candidate) => candidate.name).join(", ");
    throw new UserError(`no stage "${stageName}" in the waybill.yaml; its stages are ${names}`);
  }
  const release = releaseOf(spec, options);
  const serviceName = spec.metadata.name;
  const stageSelector = {
    "app.kubernetes.io/name": serviceName,
    "waybill.dev/stage": stage.name,
  };
  const context: StageContext = {
    spec,
    stage,
    namespace: options.namespace,
    limits: resolveResources(spec, options.recommendation ?? null),
    labels: {
      ...spec.metadata.labels,
      "app.kubernetes.io/name": serviceName,
      "app.kubernetes.io/part-of": spec.metadata.labels["app.kubernetes.io/part-of"] ?? serviceName,
      "app.kubernetes.io/managed-by": "waybill",
      "waybill.dev/stage": stage.name,
    },
    stageSelector,
  };
  const objects = [...renderStrategy(context, release, options), ...meshObjects(context)];
  return { objects, yaml: manifestsYaml(objects) };
}

/**
 * Multi-document YAML. No line folding, so long values stay on one line and diff cleanly, and
 * no anchors for values used twice: a person reading a manifest expects each field spelt out.
 */
export function manifestsYaml(objects: K8sObject[]): string {
  return objects
    .map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join("---\n");
}

/** The image a release of the service runs: the one given, else run.image, else build.image. */
export function stageImage(spec: ServiceSpec, image: string | undefined): string {
  const chosen = image ?? spec.run.image ?? spec.build.image;
  if (chosen === undefined) {
    throw new UserError(
      "no image to render: set run.image or build.image in the waybill.yaml, or give --image repository@sha256:<digest>",
    );
  }
  return chosen;
}

function releaseOf(spec: ServiceSpec, options: RenderOptions): Release {
  const image = stageImage(spec, options.image);
  const digest = imageDigest(image);
  if (options.digest !== undefined && options.digest !== digest) {
    if (!digestPattern.test(options.digest)) {
      throw new UserError(`invalid artifact digest "${options.digest}": expected sha256:<64 hex digits>`);
    }
    throw new UserError(
      `the artifact digest ${options.digest} is not the digest of the image ${image}; the image is the artifact on Kubernetes, so they must match`,
    );
  }
  return { version: options.version, image, digest };
}

function previousRelease(previous: LiveRelease): Release {
  return { ...previous, digest: imageDigest(previous.image) };
}

/** An option for another strategy is a mistake in the caller, not something to ignore. */
function checkStrategyOptions(stage: StageSpec, options: RenderOptions): void {
  const misplaced = (option: string, strategy: StageSpec["strategy"]) =>
    new UserError(`${option} is for ${strategy} stages; stage "${stage.name}" is ${stage.strategy}`);
  if (stage.strategy !== "blue-green" && (options.slot !== undefined || options.activeSlot !== undefined)) {
    throw misplaced("a slot", "blue-green");
  }
  if (stage.strategy !== "canary" && options.canaryWeight !== undefined) {
    throw misplaced("a canary weight", "canary");
  }
}

function renderStrategy(context: StageContext, release: Release, options: RenderOptions): K8sObject[] {
  checkStrategyOptions(context.stage, options);
  switch (context.stage.strategy) {
    case "direct":
      return renderDirect(context, release);
    case "blue-green":
      return renderBlueGreen(context, release, options);
    case "canary":
      return renderCanary(context, release, options);
  }
}

/** The mesh that carries the stage's mTLS on Kubernetes, or null without `security.mtls` */
export function stageMesh(stage: StageSpec): "istio" | "linkerd" | null {
  if (!stage.security.mtls) return null;
  return stage.security.mesh ?? (stage.traffic === "istio" ? "istio" : "linkerd");
}

/**
 * Istio's mTLS for the stage's pods, STRICT: a sidecar accepts no plaintext. Linkerd needs no
 * object (its proxies speak mTLS to each other once injected); its annotation is on the pods.
 */
function meshObjects(context: StageContext): K8sObject[] {
  if (stageMesh(context.stage) !== "istio") return [];
  return [
    {
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: metadata(context, `${context.spec.metadata.name}-mtls`),
      spec: { selector: { matchLabels: context.stageSelector }, mtls: { mode: "STRICT" } },
    },
  ];
}

function renderDirect(context: StageContext, release: Release): K8sObject[] {
  const name = context.spec.metadata.name;
  const track: Track = { name, release, replicas: context.stage.replicas, selector: {} };
  return [deployment(context, track), service(context, name, context.stageSelector)];
}

function otherSlot(slot: Slot): Slot {
  return slot === "blue" ? "green" : "blue";
}

function renderBlueGreen(context: StageContext, release: Release, options: RenderOptions): K8sObject[] {
  const name = context.spec.metadata.name;
  const newSlot = options.slot ?? "blue";
  const activeSlot = options.activeSlot ?? newSlot;
  if (activeSlot !== newSlot && options.previous === undefined) {
    throw new UserError(
      `the ${activeSlot} slot cannot be active: only the ${newSlot} slot has a release; give the release live in the ${activeSlot} slot as the previous release`,
    );
  }
  const slotTrack = (slot: Slot, slotRelease: Release): Track => ({
    name: `${name}-${slot}`,
    release: slotRelease,
    replicas: context.stage.replicas,
    selector: { "waybill.dev/slot": slot },
  });
  const tracks = [slotTrack(newSlot, release)];
  // Without a previous release the other slot is left out, not scaled to zero: applying
  // zero replicas would take down whatever a person left running there.
  if (options.previous !== undefined)
    tracks.push(slotTrack(otherSlot(newSlot), previousRelease(options.previous)));
  // Blue before green whichever is new, so a switch changes values, not the order of objects.
  tracks.sort((a, b) => (a.name < b.name ? -1 : 1));
  return [
    ...tracks.map((track) => deployment(context, track)),
    service(context, name, { ...context.stageSelector, "waybill.dev/slot": activeSlot }),
    // Reaches the new slot before the switch, for the stage's tests.
    service(context, `${name}-preview`, { ...context.stageSelector, "waybill.dev/slot": newSlot }),
  ];
}

function canaryWeightOf(options: RenderOptions): number | undefined {
  const weight = options.canaryWeight;
  if (weight === undefined) return undefined;
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new UserError(`invalid canary weight ${weight}: expected a whole percentage from 0 to 100`);
  }
  if (options.previous === undefined) {
    throw new UserError(
      "a canary weight needs the previous release (the stable track) to split traffic with",
    );
  }
  return weight;
}

/**
 * Replicas of the two tracks. With `traffic: replicas` the Service spreads requests evenly
 * over pods, so the weight is approximated by the share of pods: the canary gets
 * ceil(replicas × weight / 100) of the stage's replicas and the stable track the rest, but
 * never fewer than one pod while the weight is below 100. With a router the stable track
 * keeps all its replicas and the canary gets enough pods for its share.
 */
export function canaryReplicas(
  traffic: StageSpec["traffic"],
  replicas: number,
  weight: number,
): { stable: number; canary: number } {
  const canary = weight === 0 ? 0 : Math.ceil((replicas * weight) / 100);
  if (traffic !== "replicas") return { stable: replicas, canary };
  const stable = weight === 100 ? 0 : Math.max(1, replicas - canary);
  return { stable, canary };
}

function renderCanary(context: StageContext, release: Release, options: RenderOptions): K8sObject[] {
  const name = context.spec.metadata.name;
  const { stage } = context;
  const weight = canaryWeightOf(options);
  const stableRelease =
    weight === undefined || options.previous === undefined ? release : previousRelease(options.previous);
  const replicas =
    weight === undefined
      ? { stable: stage.replicas, canary: 0 }
      : canaryReplicas(stage.traffic, stage.replicas, weight);
  const stableSelector = { "waybill.dev/track": "stable" };
  const canarySelector = { "waybill.dev/track": "canary" };
  const objects = [
    deployment(context, {
      name: `${name}-stable`,
      release: stableRelease,
      replicas: replicas.stable,
      selector: stableSelector,
    }),
    deployment(context, {
      name: `${name}-canary`,
      release,
      replicas: replicas.canary,
      selector: canarySelector,
    }),
    service(context, name, context.stageSelector),
  ];
  if (stage.traffic === "replicas") return objects;

  objects.push(
    service(context, `${name}-stable`, { ...context.stageSelector, ...stableSelector }),
    service(context, `${name}-canary`, { ...context.stageSelector, ...canarySelector }),
  );
  const canaryShare = weight ?? 0;
  const route =
    stage.traffic === "gateway-api"
      ? httpRoute(context, name, canaryShare, options.gateway)
      : istioVirtualService(context, name, canaryShare);
  return [...objects, route];
}

function metadata(context: StageContext, name: string, extra: Partial<K8sMetadata> = {}): K8sMetadata {
  return {
    name,
    ...(context.namespace === undefined ? {} : { namespace: context.namespace }),
    labels: { ...context.labels, ...extra.labels },
    ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }),
  };
}

function deployment(context: StageContext, track: Track): K8sObject {
  const { spec } = context;
  const selector = { ...context.stageSelector, ...track.selector };
  const podLabels = { "app.kubernetes.io/version": labelValue(track.release.version), ...track.selector };
  const annotations: Record<string, string> = { "waybill.dev/artifact-digest": track.release.digest };
  const podAnnotations =
    stageMesh(context.stage) === "linkerd" ? { ...annotations, "linkerd.io/inject": "enabled" } : annotations;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(context, track.name, { labels: podLabels, annotations }),
    spec: {
      replicas: track.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...context.labels, ...podLabels }, annotations: podAnnotations },
        spec: {
          containers: [
            {
              name: spec.metadata.name,
              image: track.release.image,
              ports: [{ name: containerPortName, containerPort: spec.run.port, protocol: "TCP" }],
              env: containerEnv(context, track.release),
              resources: containerResources(context),
              ...probes(context),
            },
          ],
        },
      },
    },
  };
}

/**
 * Requests equal limits (Guaranteed QoS): `resources` names the limits, and the runtime
 * hints size the process for them, so the pod should get what it is tuned for.
 */
function containerResources(context: StageContext): Record<string, Record<string, string>> {
  const quantities = {
    cpu: cpuQuantity(context.limits.cpuMillicores),
    memory: memoryQuantity(context.spec.resources.memory, context.limits.memoryBytes),
  };
  return { requests: { ...quantities }, limits: { ...quantities } };
}

function probes(context: StageContext): Record<string, unknown> {
  const { run } = context.spec;
  const httpGet = { path: run.health, port: containerPortName };
  // The startup probe gives a slow start its whole healthTimeout before liveness may restart it.
  const startupAttempts = Math.max(
    1,
    Math.ceil(parseDuration(run.healthTimeout) / 1000 / startupProbePeriodSeconds),
  );
  return {
    startupProbe: { httpGet, periodSeconds: startupProbePeriodSeconds, failureThreshold: startupAttempts },
    readinessProbe: { httpGet, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: { httpGet, periodSeconds: 10, failureThreshold: 3 },
  };
}

type EnvVar =
  { name: string; value: string } | { name: string; valueFrom: Record<string, Record<string, string>> };

/**
 * Ordered so that `$(…)` references resolve: Kubernetes expands a reference only to a
 * variable defined earlier in the list. A user's variable replaces Waybill's of the same
 * name in place, so references to it stay valid and the user's value wins.
 */
function containerEnv(context: StageContext, release: Release): EnvVar[] {
  const { spec, stage } = context;
  const containerName = spec.metadata.name;
  const limit = (resource: string, divisor: string) => ({
    resourceFieldRef: { containerName, resource, divisor },
  });
  const field = (fieldPath: string) => ({ fieldRef: { fieldPath } });
  const env = new Map<string, EnvVar>();
  const add = (variable: EnvVar) => env.set(variable.name, variable);

  add({ name: "WAYBILL_CPU_LIMIT_MILLICORES", valueFrom: limit("limits.cpu", "1m") });
  add({ name: cpuLimitCoresVariable, valueFrom: limit("limits.cpu", "1") });
  add({ name: "WAYBILL_MEMORY_LIMIT_MIB", valueFrom: limit("limits.memory", "1Mi") });
  add({ name: "WAYBILL_POD_NAME", valueFrom: field("metadata.name") });
  add({ name: "WAYBILL_POD_NAMESPACE", valueFrom: field("metadata.namespace") });
  add({ name: "WAYBILL_NODE_NAME", valueFrom: field("spec.nodeName") });
  add({ name: "WAYBILL_SERVICE", value: spec.metadata.name });
  add({ name: "WAYBILL_STAGE", value: stage.name });
  add({ name: "WAYBILL_VERSION", value: release.version });
  add({ name: "WAYBILL_DIGEST", value: release.digest });
  add({ name: "PORT", value: String(spec.run.port) });
  for (const [name, value] of Object.entries(
    kubeRuntimeHints(spec.run.runtime, context.limits, spec.run.env),
  )) {
    add({ name, value });
  }
  // The local runtime passes values literally; `$$(` keeps Kubernetes from expanding them.
  for (const [name, value] of Object.entries(spec.run.env))
    add({ name, value: value.replaceAll("$(", () => "$$(") });
  return [...env.values()];
}

function service(context: StageContext, name: string, selector: Record<string, string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(context, name),
    spec: {
      type: "ClusterIP",
      selector,
      ports: [{ name: containerPortName, port: servicePort, targetPort: containerPortName, protocol: "TCP" }],
    },
  };
}

/**
 * Without a Gateway the route's parent is the stage's Service (Gateway API for meshes,
 * GAMMA), so in-cluster calls to the Service are split by weight.
 */
function httpRoute(
  context: StageContext,
  name: string,
  canaryWeight: number,
  gateway: RenderOptions["gateway"],
): K8sObject {
  const parentRef =
    gateway === undefined
      ? { group: "", kind: "Service", name, port: servicePort }
      : { name: gateway.name, ...(gateway.namespace === undefined ? {} : { namespace: gateway.namespace }) };
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: metadata(context, name),
    spec: {
      parentRefs: [parentRef],
      rules: [
        {
          backendRefs: [
            { name: `${name}-stable`, port: servicePort, weight: 100 - canaryWeight },
            { name: `${name}-canary`, port: servicePort, weight: canaryWeight },
          ],
        },
      ],
    },
  };
}

function istioVirtualService(context: StageContext, name: string, canaryWeight: number): K8sObject {
  const destination = (host: string, weight: number) => ({
    destination: { host, port: { number: servicePort } },
    weight,
  });
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: metadata(context, name),
    spec: {
      hosts: [name],
      http: [
        {
          route: [
            destination(`${name}-stable`, 100 - canaryWeight),
            destination(`${name}-canary`, canaryWeight),
          ],
        },
      ],
    },
  };
}

/** The namespace of the stage's first Kubernetes target, if it names one. */
export function stageNamespace(stage: StageSpec): string | undefined {
  for (const target of stageTargets(stage)) {
    const match = /^kube:[^/]+\/(.+)$/.exec(target);
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}
