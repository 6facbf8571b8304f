/**
 * Follows a ship's runs until nothing more will happen without a person: shows each change
 * of stage, task and state with the elapsed time, then where each stage stands.
 */
import type { ApiClient } from "./client.js";
import { colourOf, paint } from "./colour.js";
import {
  gateSummary,
  queuedNote,
  statusTable,
  visible,
  type EvaluationView,
  type RunView,
  type StatusView,
} from "./views.js";

const POLL_MS = 250;
const SETTLED = new Set(["succeeded", "failed", "waiting-approval"]);
const PIPE_PROGRESS_MS = 5000;

export interface FollowOutcome {
  runs: RunView[];
  failed: RunView[];
  waiting: RunView[];
}

/**
 * `live`: the output is a terminal, where a long task's progress rewrites one line in place;
 * elsewhere (a CI log) a progress line is printed at most every PIPE_PROGRESS_MS.
 */
export async function followShip(
  client: ApiClient,
  shipId: string,
  printLine: ((line: string) => void) | undefined,
  live: boolean = process.stdout.isTTY === true,
): Promise<FollowOutcome> {
  const started = Date.now();
  const seen = new Map<string, string>();
  const judged = new Set<string>();
  const progressShownAt = new Map<string, number>();
  const reasonShown = new Set<string>();
  let progressOpen = false;
  const print =
    printLine === undefined
      ? undefined
      : (line: string): void => {
          if (progressOpen) printLine("\n");
          progressOpen = false;
          printLine(line);
        };
  const showProgress = (run: RunView, text: string): void => {
    if (printLine === undefined) return;
    const line = `${elapsed(started).padStart(7)}  [${run.stage}] ${visible(run.version)} ${run.task ?? ""}: ${visible(text)}`;
    if (live) {
      printLine(`\r\u001b[2K${line}`);
      progressOpen = true;
    } else if (Date.now() - (progressShownAt.get(run.id) ?? 0) >= PIPE_PROGRESS_MS) {
      progressShownAt.set(run.id, Date.now());
      printLine(`${line}\n`);
    }
  };
  for (;;) {
    const { runs } = await client.get<{ runs: RunView[] }>(`/v1/runs?ship=${encodeURIComponent(shipId)}`);
    for (const run of runs) {
      if (print !== undefined && SETTLED.has(run.state) && !judged.has(run.id)) {
        judged.add(run.id);
        const summary = await gateLine(client, run);
        if (summary !== undefined) print(`${elapsed(started).padStart(7)}  ${summary}\n`);
      }
      // A reason already printed (while rolling back) is not printed again when the run fails.
      const line = describe(run, reasonShown.has(run.id));
      if (run.state === "rolling-back") reasonShown.add(run.id);
      if (seen.get(run.id) !== line) {
        seen.set(run.id, line);
        print?.(`${elapsed(started).padStart(7)}  ${line}\n`);
      } else if (run.progress !== undefined) {
        showProgress(run, run.progress);
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

/** Follows one run (an approved one, on to its release) until it finishes; returns it then. */
export async function followRun(
  client: ApiClient,
  runId: string,
  print: (line: string) => void,
): Promise<RunView> {
  const started = Date.now();
  let last = "";
  for (;;) {
    const run = await client.get<RunView>(`/v1/runs/${encodeURIComponent(runId)}`);
    const line = describe(run, false);
    if (line !== last) {
      last = line;
      print(`${elapsed(started).padStart(7)}  ${line}\n`);
    }
    if (run.state === "succeeded" || run.state === "failed") return run;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The gate's verdict for a settled run that had one */
async function gateLine(client: ApiClient, run: RunView): Promise<string | undefined> {
  const detail = await client.get<{ evaluation: EvaluationView | null }>(
    `/v1/runs/${encodeURIComponent(run.id)}`,
  );
  return detail.evaluation === null ? undefined : gateSummary(run.stage, detail.evaluation);
}

function describe(run: RunView, reasonShown: boolean): string {
  const where = `[${run.stage}] ${visible(run.version)}`;
  const colour = colourOf(run.state === "succeeded" ? "released" : run.state);
  const text = describeState(run, where, reasonShown);
  return colour === undefined ? text : paint(text, colour);
}

function describeState(run: RunView, where: string, reasonShown: boolean): string {
  switch (run.state) {
    case "queued":
      return `${where} ${queuedNote(run)}`;
    case "running":
      return `${where} ${run.task ?? "starting"}…`;
    case "rolling-back":
      return `${where} rolling back: ${run.reason ?? ""}`;
    case "waiting-approval":
      return `${where} waiting for approval (result ${run.result ?? "pass"})`;
    case "succeeded":
      return `${where} released`;
    case "failed":
      return reasonShown
        ? `${where} failed (run ${run.id}), reason above`
        : `${where} failed (run ${run.id}): ${visible(run.reason ?? "unknown reason")}`;
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
  // The reasons were printed as the runs failed: here, only where each stage stands and what next.
  print(`\n${statusTable(status, { reasons: false })}`);
  for (const run of outcome.failed) {
    print(
      `\n${run.stage} failed (reason above): waybill run ${run.id} shows its tasks and the gate's table\n`,
    );
  }
  for (const run of outcome.waiting) {
    print(
      `\n${run.stage} is waiting for approval: waybill approve ${run.id}  (or: waybill reject ${run.id})\n`,
    );
  }
}
