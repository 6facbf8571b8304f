import assert from "node:assert/strict";
import { test } from "node:test";
import type { StoredEvent } from "../store/events.js";
import { foldRunProgress } from "./run-progress.js";

let seq = 0;
function event(type: string, data: Record<string, unknown> = {}): StoredEvent {
  seq += 1;
  return {
    specversion: "1.0",
    id: `e${seq}`,
    source: "/test",
    type: `dev.waybill.${type}`,
    time: new Date(0).toISOString(),
    subject: "runs/r",
    datacontenttype: "application/json",
    waybillrun: "r",
    data,
    seq,
  };
}

const cases: {
  name: string;
  history: StoredEvent[];
  succeeded: string[];
  deployAttempts: number;
  decision: string | null;
}[] = [
  { name: "a new run has done nothing", history: [], succeeded: [], deployAttempts: 0, decision: null },
  {
    name: "a task started but not finished counts as an attempt, not as done",
    history: [
      event("task.started", { task: "verify-artifact", attempt: 1 }),
      event("task.succeeded", { task: "verify-artifact" }),
      event("task.started", { task: "deploy", attempt: 1 }),
    ],
    succeeded: ["verify-artifact"],
    deployAttempts: 1,
    decision: null,
  },
  {
    name: "a restarted task counts every attempt",
    history: [
      event("task.started", { task: "deploy", attempt: 1 }),
      event("task.started", { task: "deploy", attempt: 2 }),
      event("task.succeeded", { task: "deploy" }),
    ],
    succeeded: ["deploy"],
    deployAttempts: 2,
    decision: null,
  },
  {
    name: "an approval decides the wait",
    history: [
      event("run.waiting-approval", { result: "pass", deadline: "2030-01-01T00:00:00Z" }),
      event("run.approved", { by: "admin" }),
    ],
    succeeded: [],
    deployAttempts: 0,
    decision: "approved",
  },
  {
    name: "a rejection decides the wait",
    history: [
      event("run.waiting-approval", { result: "warning", deadline: "2030-01-01T00:00:00Z" }),
      event("run.rejected", { by: "admin", reason: "no" }),
    ],
    succeeded: [],
    deployAttempts: 0,
    decision: "rejected",
  },
];

for (const c of cases) {
  test(c.name, () => {
    const progress = foldRunProgress(c.history);
    assert.deepEqual([...progress.succeeded], c.succeeded);
    assert.equal(progress.attempts.get("deploy") ?? 0, c.deployAttempts);
    assert.equal(progress.approval?.decision ?? null, c.decision);
  });
}

test("a waiting run carries its approval deadline until a decision", () => {
  const waiting = foldRunProgress([
    event("run.waiting-approval", { result: "pass", deadline: "2030-01-01T00:00:00Z" }),
  ]);
  assert.equal(waiting.approvalDeadline, "2030-01-01T00:00:00Z");
  const decided = foldRunProgress([
    event("run.waiting-approval", { result: "pass", deadline: "2030-01-01T00:00:00Z" }),
    event("run.approved", { by: "x" }),
  ]);
  assert.equal(decided.approvalDeadline, null);
});
