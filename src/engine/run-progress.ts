/**
 * What a run's own events say about where it is: a pure fold, so the engine can resume a run
 * from the log alone after a crash.
 */
import { shortType, type EventData, type StoredEvent } from "../store/events.js";

export interface RunProgress {
  succeeded: Set<string>;
  attempts: Map<string, number>;
  approval:
    { decision: "approved"; by: string } | { decision: "rejected"; by: string; reason: string } | null;
  /** Set while the run waits for a person; cleared by a decision */
  approvalDeadline: string | null;
  released: boolean;
}

export function foldRunProgress(history: StoredEvent[]): RunProgress {
  const progress: RunProgress = {
    succeeded: new Set(),
    attempts: new Map(),
    approval: null,
    approvalDeadline: null,
    released: false,
  };
  for (const event of history) {
    switch (shortType(event)) {
      case "task.started": {
        const { task } = event.data as EventData["task.started"];
        progress.attempts.set(task, (progress.attempts.get(task) ?? 0) + 1);
        break;
      }
      case "task.succeeded":
        progress.succeeded.add((event.data as EventData["task.succeeded"]).task);
        break;
      case "run.waiting-approval":
        progress.approvalDeadline = (event.data as EventData["run.waiting-approval"]).deadline;
        break;
      case "run.approved":
        progress.approval = { decision: "approved", by: (event.data as EventData["run.approved"]).by };
        progress.approvalDeadline = null;
        break;
      case "run.rejected": {
        const data = event.data as EventData["run.rejected"];
        progress.approval = { decision: "rejected", by: data.by, reason: data.reason };
        progress.approvalDeadline = null;
        break;
      }
      case "release.recorded":
        progress.released = true;
        break;
      default:
        break;
    }
  }
  return progress;
}

/** What the run's test measured last (on its last target), if it ran one */
export function lastTestMeasurement(history: readonly StoredEvent[]): EventData["test.measured"] | undefined {
  const measured = history.filter((event) => shortType(event) === "test.measured").at(-1);
  return measured?.data as EventData["test.measured"] | undefined;
}
