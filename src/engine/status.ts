/**
 * Where each stage stands, derived from its runs and releases (pure). The order of checks is
 * the order a person asks in: is something happening now; did the last attempt fail; what
 * is live.
 */
import type { ReleaseRecord, RunRecord } from "../store/store.js";

export type StageState = "released" | "running" | "waiting-approval" | "failed" | "rolled-back" | "empty";

export interface StageStatus {
  name: string;
  version: string | null;
  digest: string | null;
  state: StageState;
  url: string | null;
  /** The run now in progress or last finished, if any */
  runId: string | null;
  reason: string | null;
  /** Runs waiting their turn on this stage, oldest first */
  queued: { id: string; version: string }[];
  targets: { name: string; version: string; digest: string; releasedAt: string }[];
}

export function stageStatus(
  name: string,
  runs: RunRecord[],
  releases: ReleaseRecord[],
  url: string | null,
): StageStatus {
  const stageRuns = runs.filter((run) => run.stage === name);
  const active = stageRuns.find((run) => ["running", "rolling-back", "waiting-approval"].includes(run.state));
  const lastFinished = [...stageRuns]
    .reverse()
    .find((run) => run.state === "succeeded" || run.state === "failed");
  const live = releases.filter((release) => release.stage === name && release.replacedAt === null);
  const primary = live[0];
  let state: StageState;
  if (active !== undefined) state = active.state === "waiting-approval" ? "waiting-approval" : "running";
  else if (lastFinished?.state === "failed") state = primary === undefined ? "failed" : "rolled-back";
  else state = primary === undefined ? "empty" : "released";
  const shown = active ?? lastFinished;
  return {
    name,
    version: primary?.version ?? null,
    digest: primary?.digest ?? null,
    state,
    url,
    runId: shown?.id ?? null,
    reason: shown?.state === "failed" ? shown.reason : null,
    queued: stageRuns
      .filter((run) => run.state === "queued")
      .map((run) => ({ id: run.id, version: run.version })),
    targets: live.map((release) => ({
      name: release.target,
      version: release.version,
      digest: release.digest,
      releasedAt: release.releasedAt,
    })),
  };
}
