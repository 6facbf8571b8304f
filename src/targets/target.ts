/**
 * A target is where a stage's artifact runs: the local runtime, or a Kubernetes cluster.
 * Every method is idempotent, because after a control-plane crash the engine runs the
 * interrupted task again.
 */
import type { ServiceSpec, StageSpec } from "../spec/schema.js";
import type { ArtifactRecord, ReleaseRecord, RunRecord } from "../store/store.js";

export interface TargetContext {
  run: RunRecord;
  spec: ServiceSpec;
  stage: StageSpec;
  artifact: ArtifactRecord;
  /** What is live on this target now, before this run */
  previous: ReleaseRecord | undefined;
  signal: AbortSignal;
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
  /** Where users reach the stage on this target */
  url(service: string, stage: string): string | undefined;
}

export interface TargetResolver {
  resolve(targetName: string): Target;
}
