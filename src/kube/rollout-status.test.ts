import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rolloutStatus, type DeploymentRolloutView } from "./rollout-status.js";

function deployment(
  generation: number,
  replicas: number | undefined,
  status: NonNullable<DeploymentRolloutView["status"]>,
): DeploymentRolloutView {
  return { metadata: { name: "web", generation }, spec: replicas === undefined ? {} : { replicas }, status };
}

const deadlineExceeded = {
  type: "Progressing",
  status: "False",
  reason: "ProgressDeadlineExceeded",
  message: 'ReplicaSet "web-5d8f" has timed out progressing.',
};
const progressing = { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" };

describe("rolloutStatus", () => {
  const cases: [string, DeploymentRolloutView, string, string | undefined, string][] = [
    [
      "a spec the controller has not seen",
      deployment(3, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      "waiting",
      "spec-not-observed",
      'waiting for deployment "web" spec update to be observed',
    ],
    [
      "no status at all",
      { metadata: { name: "web", generation: 1 }, spec: { replicas: 1 } },
      "waiting",
      "spec-not-observed",
      'waiting for deployment "web" spec update to be observed',
    ],
    [
      "too few updated replicas",
      deployment(2, 3, { observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3 }),
      "waiting",
      "updating",
      'waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated',
    ],
    [
      "old replicas still running",
      deployment(2, 3, { observedGeneration: 2, replicas: 5, updatedReplicas: 3, availableReplicas: 4 }),
      "waiting",
      "old-replicas-terminating",
      'waiting for deployment "web" rollout to finish: 2 old replicas are pending termination',
    ],
    [
      "updated replicas not yet available",
      deployment(2, 3, { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 1 }),
      "waiting",
      "becoming-available",
      'waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available',
    ],
    [
      "everything updated and available",
      deployment(2, 3, {
        observedGeneration: 2,
        replicas: 3,
        updatedReplicas: 3,
        availableReplicas: 3,
        conditions: [progressing],
      }),
      "done",
      undefined,
      'deployment "web" successfully rolled out',
    ],
    [
      "observedGeneration at or past the generation counts as observed",
      deployment(2, 1, { observedGeneration: 3, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }),
      "done",
      undefined,
      'deployment "web" successfully rolled out',
    ],
    [
      "scaled to zero",
      deployment(4, 0, { observedGeneration: 4 }),
      "done",
      undefined,
      'deployment "web" successfully rolled out',
    ],
    [
      "the progress deadline exceeded, before any count is looked at",
      deployment(2, 3, {
        observedGeneration: 2,
        replicas: 4,
        updatedReplicas: 1,
        availableReplicas: 3,
        conditions: [{ type: "Available", status: "True" }, deadlineExceeded],
      }),
      "failed",
      "progress-deadline-exceeded",
      'deployment "web" exceeded its progress deadline: ReplicaSet "web-5d8f" has timed out progressing.',
    ],
    [
      "a deadline condition on an unobserved spec is stale",
      deployment(3, 3, { observedGeneration: 2, conditions: [deadlineExceeded] }),
      "waiting",
      "spec-not-observed",
      'waiting for deployment "web" spec update to be observed',
    ],
    [
      "no spec.replicas, as kubectl: that check is skipped",
      deployment(1, undefined, {
        observedGeneration: 1,
        replicas: 1,
        updatedReplicas: 1,
        availableReplicas: 0,
      }),
      "waiting",
      "becoming-available",
      'waiting for deployment "web" rollout to finish: 0 of 1 updated replicas are available',
    ],
  ];
  for (const [what, input, state, reason, message] of cases) {
    it(what, () => {
      const status = rolloutStatus(input);
      assert.equal(status.state, state);
      assert.equal("reason" in status ? status.reason : undefined, reason);
      assert.equal(status.message, message);
    });
  }
});
