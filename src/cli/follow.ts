/**
 * Follows a ship's runs until nothing more will happen without a person: shows each change
 * of stage, task and state with the elapsed time, then where each stage stands.
 */
import type { ApiClient } from "./client.js";
import { statusTable, visible, type RunView, type StatusView } from "./views.js";

const POLL_MS = 250;
const SETTLED = new Set(["succeeded", "failed", "waiting-approval"]);

export interface FollowOutcome {
  runs: RunView[];
  failed: RunView[];
  waiting: RunView[];
}

export async function followShip(
  client: ApiClient,
  shipId: string,
  print: ((line: string) => void) | undefined,
): Promise<FollowOutcome> {
  const started = Date.now();
  const seen = new Map<string, string>();
  for (;;) {
    const { runs } = await client.get<{ runs: RunView[] }>(`/v1/runs?ship=${encodeURIComponent(shipId)}`);
    for (const run of runs) {
      const line = describe(run);
      if (seen.get(run.id) !== line) {
        seen.set(run.id, line);
        print?.(`${elapsed(started).padStart(7)}  ${line}\n`);
      }
    }
    if (runs.length > 0 && runs.every((run) => SETTLED.has(run.state))) {
      return {
        runs,
        failed: runs.filter((run) => run.state === "failed"),
        waiting: runs.filter((run) => run.state === "waiting-approval"),
      };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function describe(run: RunView): string {
  const where = `[${run.stage}] ${visible(run.version)}`;
  switch (run.state) {
    case "queued":
      return `${where} queued`;
    case "running":
      return `${where} ${run.task ?? "starting"}…`;
    case "rolling-back":
      return `${where} rolling back: ${run.reason ?? ""}`;
    case "waiting-approval":
      return `${where} waiting for approval (result ${run.result ?? "pass"})`;
    case "succeeded":
      return `${where} released`;
    case "failed":
      return `${where} failed: ${run.reason ?? "unknown reason"}`;
    default:
      return `${where} ${run.state}`;
  }
}

function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

export async function printOutcome(
  client: ApiClient,
  service: string,
  outcome: FollowOutcome,
  print: (text: string) => void,
): Promise<void> {
  const status = await client.get<StatusView>(`/v1/status?service=${encodeURIComponent(service)}`);
  print(`\n${statusTable(status)}`);
  for (const run of outcome.failed) print(`\n${run.stage} failed: ${run.reason ?? "unknown reason"}\n`);
  for (const run of outcome.waiting) {
    print(
      `\n${run.stage} is waiting for approval: waybill approve ${run.id}  (or: waybill reject ${run.id})\n`,
    );
  }
}
