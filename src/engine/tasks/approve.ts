import { foldRunProgress } from "../run-progress.js";
import type { TaskHandler } from "../task.js";

/**
 * Keptn's approval semantics: the gate result picks the stage's `approval.pass` or
 * `approval.warning` mode; a failed gate is never approved. A rollback a person asked for is
 * its own approval.
 */
export const approveTask: TaskHandler = {
  name: "approve",
  order: 70,
  appliesTo: (run) => run.kind !== "rightsize",
  timeoutMs: 30_000,
  async run({ run, stage, history }) {
    const { approval } = foldRunProgress(history);
    if (approval?.decision === "approved") return { kind: "succeeded", output: { approvedBy: approval.by } };
    if (approval?.decision === "rejected") {
      return { kind: "failed", reason: `rejected by ${approval.by}: ${approval.reason}` };
    }
    const result = run.result ?? "pass";
    if (result === "fail")
      return { kind: "failed", reason: "the quality gate failed; a failed run is never approved" };
    const mode = result === "warning" ? stage.approval.warning : stage.approval.pass;
    if (run.kind === "rollback" || mode === "automatic") {
      return { kind: "succeeded", output: { approvedBy: "automatic", result } };
    }
    return { kind: "wait-for-approval", result };
  },
};
