import assert from "node:assert/strict";
import { test } from "node:test";
import type { EventView } from "../../api/runs.js";
import {
  badgeOf,
  describeRequirement,
  eventKind,
  formatAgo,
  formatDuration,
  settled,
  taskTimeline,
} from "./format.js";

test("durations read in the unit that suits them", () => {
  const cases: [number, string][] = [
    [0, "0 ms"],
    [850.4, "850 ms"],
    [4_200, "4.2 s"],
    [59_949, "59.9 s"],
    [185_000, "3 min 5 s"],
    [3_720_000, "1 h 2 min"],
    [-1, "—"],
    [Number.NaN, "—"],
  ];
  for (const [ms, expected] of cases) assert.equal(formatDuration(ms), expected, String(ms));
});

test("times read as how long ago", () => {
  const now = Date.parse("2026-01-02T12:00:00Z");
  const cases: [string, string][] = [
    ["2026-01-02T11:59:58Z", "just now"],
    ["2026-01-02T11:59:30Z", "30 s ago"],
    ["2026-01-02T11:45:00Z", "15 min ago"],
    ["2026-01-02T09:00:00Z", "3 h ago"],
    ["2025-12-30T12:00:00Z", "3 d ago"],
    ["not a time", "not a time"],
  ];
  for (const [iso, expected] of cases) assert.equal(formatAgo(iso, now), expected, iso);
});

test("every state has an icon and a word, so colour is never the only signal", () => {
  for (const state of [
    "released",
    "running",
    "waiting-approval",
    "failed",
    "rolled-back",
    "empty",
    "pass",
    "warning",
    "fail",
    "info",
    "queued",
    "succeeded",
    "rolling-back",
  ]) {
    const badge = badgeOf(state);
    assert.ok(badge.icon.length > 0 && badge.label.length > 0, state);
    assert.notEqual(badge.label, state === "waiting-approval" ? state : "", state);
  }
  assert.deepEqual(badgeOf("something-new"), { icon: "•", label: "something-new", tone: "neutral" });
});

function event(type: string, time: string, data: Record<string, unknown>): EventView {
  return {
    specversion: "1.0",
    id: `${type}-${time}`,
    source: "/waybill",
    type: `dev.waybill.${type}`,
    time,
    subject: "runs/r1",
    data,
  };
}

test("a run's tasks come from its log: each start with what ended it, a retried task twice", () => {
  const spans = taskTimeline([
    event("run.started", "2026-01-02T12:00:00.000Z", {}),
    event("task.started", "2026-01-02T12:00:00.000Z", { task: "deploy", attempt: 1 }),
    event("task.succeeded", "2026-01-02T12:00:02.500Z", { task: "deploy", output: { port: 1 } }),
    event("task.started", "2026-01-02T12:00:03.000Z", { task: "test", attempt: 1 }),
    event("task.failed", "2026-01-02T12:00:04.000Z", { task: "test", reason: "p95 too high" }),
    event("task.started", "2026-01-02T12:00:05.000Z", { task: "test", attempt: 2 }),
  ]);
  assert.deepEqual(
    spans.map((span) => [span.task, span.attempt, span.state, span.finishedAt, span.reason, span.output]),
    [
      ["deploy", 1, "succeeded", "2026-01-02T12:00:02.500Z", null, { port: 1 }],
      ["test", 1, "failed", "2026-01-02T12:00:04.000Z", "p95 too high", null],
      ["test", 2, "running", null, null, null],
    ],
  );
});

test("event kinds, requirements and settled states read as the CLI names them", () => {
  assert.equal(eventKind("dev.waybill.task.started"), "task.started");
  assert.equal(eventKind("com.example.other"), "com.example.other");
  const requirements: [unknown, string][] = [
    ["sbom", "sbom"],
    [{ "slo-evaluation": { from_stage: "staging" } }, "slo-evaluation (from_stage: staging)"],
    [{ vulns: { max: { critical: 0 } } }, 'vulns (max: {"critical":0})'],
  ];
  for (const [requirement, expected] of requirements)
    assert.equal(describeRequirement(requirement), expected);
  assert.deepEqual(["succeeded", "failed", "waiting-approval", "running", "queued"].map(settled), [
    true,
    true,
    false,
    false,
    false,
  ]);
});
