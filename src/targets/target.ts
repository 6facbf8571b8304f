/**
 * A target is where a stage's artifact runs: the local runtime, or a Kubernetes cluster.
 * Every method is idempotent, because after a control-plane crash the engine runs the
 * interrupted task again.
 */
import type { ServiceSpec, StageSpec } from "../spec/schema.js";
import type { CopyUsage } from "../gate/rightsizing.js";
import type { LimitsReport } from "../runtime/limits-check/compare.js";
import type { Unobservable } from "../runtime/limits-check/probe.js";
import type { RecordedRecommendation } from "../spec/resources.js";
import type { DependencyUsage } from "../evidence/attestation/minimum-environment.js";
import type { ArtifactRecord, ReleaseRecord, RunRecord } from "../store/store.js";
import type { TimeWindow } from "../runtime/types.js";

export interface TargetContext {
  run: RunRecord;
  spec: ServiceSpec;
  stage: StageSpec;
  artifact: ArtifactRecord;
  /** What is live on this target now, before this run */
  previous: ReleaseRecord | undefined;
  /** The artifact's recorded rightsizing recommendation, where `resources` says `auto` */
  recommendation: RecordedRecommendation | null;
  signal: AbortSignal;
}

export interface ProcessUsage {
  cpuSeconds: number;
  memoryMaxMib: number;
  cpuThrottledPct: number | null;
}

/** What a target measured about the new version while load ran against it */
export interface TargetMeasurement {
  /** CPU seconds, peak memory, throttling; absent where the target cannot see its processes */
  process: ProcessUsage | null;
  /** The same for the live release over the same window, when it was measured as a baseline */
  baselineProcess: ProcessUsage | null;
  /** Request latencies the target's proxy saw for the new version */
  latencySamplesMs: number[];
}

/** Traffic each version got during one canary step, as the stage's proxy saw it */
export interface CanaryTraffic {
  stable: { latencySamplesMs: number[]; errorRatePerSecond: number[]; requests: number } | null;
  canary: { latencySamplesMs: number[]; errorRatePerSecond: number[]; requests: number } | null;
}

export interface Target {
  /** e.g. "local", "kube:prod-eu/shop" */
  readonly name: string;
  /** Starts the new version; `direct` also sends it the traffic, the other strategies keep it aside */
  deploy(context: TargetContext): Promise<void>;
  /** Probes the new version through the same path users reach it by */
  checkHealth(context: TargetContext): Promise<void>;
  /** Gives the new version all the traffic and retires the old one */
  release(context: TargetContext): Promise<void>;
  /** Puts the previous release back in front and removes the new version */
  rollback(context: TargetContext): Promise<void>;
  /** Where test load for the new version goes, and the headers that pin it there */
  testEndpoint(context: TargetContext): { url: string; headers: Record<string, string> };
  /**
   * Where the live release answers beside the new version, through the same entry point, for a
   * concurrent baseline; undefined when nothing is live or the target cannot reach it apart.
   */
  baselineEndpoint(context: TargetContext): { url: string; headers: Record<string, string> } | undefined;
  /** Starts measuring the new version, and the live release when `withBaseline`; `stop` returns what was seen */
  startMeasurement(
    context: TargetContext,
    withBaseline: boolean,
  ): Promise<{ stop(): Promise<TargetMeasurement> }>;
  /** Sends `weight`% of the stage's traffic to the new version; `observe` reports each side's traffic */
  setCanaryWeight(context: TargetContext, weight: number): Promise<{ observe(): Promise<CanaryTraffic> }>;
  /** Where users reach the stage on this target */
  url(service: string, stage: string): string | undefined;
  /**
   * Whether the new version's language runtime (`run.runtime`) took the limits it was given;
   * null where there is no runtime to check or the target cannot see its processes.
   */
  runtimeLimits(context: TargetContext): Promise<LimitsReport | Unobservable | null>;
  /**
   * Which of the SBOM's packages the new version loaded since it started, and which it never did;
   * null where its runtime's loads are not recorded or the target cannot see its processes.
   */
  dependencyUsage(context: TargetContext): Promise<DependencyUsage | null>;
  /**
   * For a stage with mutual TLS: the headers that send a test request to the same instance
   * without TLS, and the TLS terminator's CPU seconds so far; null where the target cannot split
   * the two paths (a cluster's mesh is out of its reach).
   */
  plainPath(context: TargetContext): PlainPath | null;
  /**
   * Where the artifact can run at sizes of our choosing beside the stage, for rightsizing;
   * a target that cannot enforce limits (or has no such place) rejects with the reason.
   */
  sizingLab(context: TargetContext): Promise<SizingLab>;
}

export interface PlainPath {
  headers: Record<string, string>;
  /** The app's own port, past the proxy and the terminator: where the app's own latency is seen */
  directUrl: string;
  /** CPU seconds so far of the instance's TLS terminator and of the stage proxies' process */
  cpuSeconds(): Promise<{ terminator: number | null; proxy: number | null }>;
}

export interface SizeLimits {
  cpuMillicores: number;
  memoryBytes: number;
}

/** A copy's usage over a measurement, per second as well as in all */
export type SizedUsage = CopyUsage;

/**
 * Copies of one release at sizes of the experiment's choosing, reachable through one entry point
 * of their own and never given the stage's traffic. Two copies are paired at a time: requests
 * carrying `referenceHeaders` reach the first, `trialHeaders` the second.
 */
export interface SizingLab {
  readonly url: string;
  readonly referenceHeaders: Record<string, string>;
  readonly trialHeaders: Record<string, string>;
  /** Starts the copy `name` at `size` and waits until it is healthy; a copy of that name is replaced */
  start(name: string, size: SizeLimits, signal: AbortSignal): Promise<void>;
  /** Routes the pair: reference and trial by name */
  pair(reference: string, trial: string): Promise<void>;
  /**
   * Starts measuring both copies of the pair; `stop` returns what each used, per second over
   * `within` (the load's window) when given
   */
  measure(
    reference: string,
    trial: string,
  ): Promise<{ stop(within?: TimeWindow): Promise<{ reference: SizedUsage; trial: SizedUsage }> }>;
  stop(name: string): Promise<void>;
  /** Stops every copy, the ones a crashed earlier attempt left included */
  close(): Promise<void>;
}

export interface TargetResolver {
  resolve(targetName: string): Target;
}
