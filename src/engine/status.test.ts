import assert from "node:assert/strict";
import { test } from "node:test";
import type { ReleaseRecord, RunRecord } from "../store/store.js";
import { stageStatus, type StageState } from "./status.js";

function run(id: string, state: RunRecord["state"], reason: string | null = null): RunRecord {
  return {
    id,
    shipId: "s",
    kind: "ship",
    service: "hello",
    stage: "dev",
    stageIndex: 0,
    digest: `sha256:${id}`,
    version: id,
    state,
    result: null,
    task: null,
    reason,
    createdAt: "",
    startedAt: null,
    finishedAt: null,
  };
}
const live: ReleaseRecord = {
  service: "hello",
  stage: "dev",
  target: "local",
  digest: "sha256:v1",
  version: "v1",
  runId: "v1",
  releasedAt: "2026-01-01T00:00:00Z",
  replacedAt: null,
};

const cases: {
  name: string;
  runs: RunRecord[];
  releases: ReleaseRecord[];
  state: StageState;
  version: string | null;
}[] = [
  { name: "a stage nothing was shipped to is empty", runs: [], releases: [], state: "empty", version: null },
  {
    name: "a stage with a live release is released",
    runs: [run("v1", "succeeded")],
    releases: [live],
    state: "released",
    version: "v1",
  },
  {
    name: "a stage with a run in progress is running",
    runs: [run("v1", "succeeded"), run("v2", "running")],
    releases: [live],
    state: "running",
    version: "v1",
  },
  {
    name: "a rollback in progress shows as running",
    runs: [run("v2", "rolling-back")],
    releases: [live],
    state: "running",
    version: "v1",
  },
  {
    name: "a stage waiting for a person says so",
    runs: [run("v2", "waiting-approval")],
    releases: [live],
    state: "waiting-approval",
    version: "v1",
  },
  {
    name: "a failed run over a live release is rolled back",
    runs: [run("v1", "succeeded"), run("v2", "failed", "boom")],
    releases: [live],
    state: "rolled-back",
    version: "v1",
  },
  {
    name: "a failed first run leaves the stage failed",
    runs: [run("v1", "failed", "boom")],
    releases: [],
    state: "failed",
    version: null,
  },
  {
    name: "a success after a failure is released again",
    runs: [run("v2", "failed"), run("v3", "succeeded")],
    releases: [live],
    state: "released",
    version: "v1",
  },
];

for (const c of cases) {
  test(c.name, () => {
    const status = stageStatus("dev", c.runs, c.releases, "http://127.0.0.1:1");
    assert.equal(status.state, c.state);
    assert.equal(status.version, c.version);
  });
}

test("a failed stage carries the reason of its last run", () => {
  assert.equal(
    stageStatus("dev", [run("v2", "failed", "health: timed out")], [live], null).reason,
    "health: timed out",
  );
});

test("a stage lists the runs queued behind its current one, oldest first", () => {
  const status = stageStatus(
    "dev",
    [run("v1", "succeeded"), run("v2", "waiting-approval"), run("v3", "queued"), run("v4", "queued")],
    [live],
    null,
  );
  assert.equal(status.state, "waiting-approval");
  assert.deepEqual(status.queued, [
    { id: "v3", version: "v3" },
    { id: "v4", version: "v4" },
  ]);
});
