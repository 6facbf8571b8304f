/**
 * Whether a Deployment's rollout is done, still going, or failed, decided from the object the
 * API server returns, in the order and with the rules `kubectl rollout status` uses, so Waybill
 * and a person watching with kubectl never disagree. Pure: the caller polls or watches.
 */

export interface DeploymentCondition {
  type: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** The fields of an apps/v1 Deployment the decision reads; absent numbers count as 0, as in the API. */
export interface DeploymentRolloutView {
  metadata: { name: string; generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: DeploymentCondition[];
  };
}

export type RolloutWaitReason =
  /** The controller has not yet seen the latest spec */
  | "spec-not-observed"
  /** Fewer pods than wanted run the new template */
  | "updating"
  /** Pods of the old template are still running */
  | "old-replicas-terminating"
  /** New pods exist but are not yet available (ready for minReadySeconds) */
  | "becoming-available";

export type RolloutStatus =
  | { state: "done"; message: string }
  | { state: "waiting"; reason: RolloutWaitReason; message: string }
  | { state: "failed"; reason: "progress-deadline-exceeded"; message: string };

/** The reason the deployment controller sets on Progressing once progressDeadlineSeconds passes. */
const progressDeadlineExceeded = "ProgressDeadlineExceeded";

export function rolloutStatus(deployment: DeploymentRolloutView): RolloutStatus {
  const { name } = deployment.metadata;
  const status = deployment.status ?? {};
  // Until the controller has observed this generation, every status number describes an
  // older spec and says nothing about this rollout.
  if ((deployment.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return {
      state: "waiting",
      reason: "spec-not-observed",
      message: `waiting for deployment "${name}" spec update to be observed`,
    };
  }
  const progressing = status.conditions?.find((condition) => condition.type === "Progressing");
  if (progressing?.reason === progressDeadlineExceeded) {
    return {
      state: "failed",
      reason: "progress-deadline-exceeded",
      message: `deployment "${name}" exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ""}`,
    };
  }
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const wanted = deployment.spec?.replicas;
  // kubectl skips this check when spec.replicas is unset (the API server always defaults it).
  if (wanted !== undefined && updated < wanted) {
    return {
      state: "waiting",
      reason: "updating",
      message: `waiting for deployment "${name}" rollout to finish: ${updated} out of ${wanted} new replicas have been updated`,
    };
  }
  if (total > updated) {
    return {
      state: "waiting",
      reason: "old-replicas-terminating",
      message: `waiting for deployment "${name}" rollout to finish: ${total - updated} old replicas are pending termination`,
    };
  }
  if (available < updated) {
    return {
      state: "waiting",
      reason: "becoming-available",
      message: `waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available`,
    };
  }
  return { state: "done", message: `deployment "${name}" successfully rolled out` };
}
