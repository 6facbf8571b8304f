/**
 * Follows a ship's runs until nothing more will happen without a person: shows each change
 * of stage, task and state with the elapsed time, then where each stage stands.
 */
import type { ApiClient } from "./client.js";
import { colourOf, paint } from "./colour.js";
import { gateSummary, queuedNote, statusTable, visible, type RunView } from "./views.js";
import { getRun, listRuns } from "../api/runs.js";
import { getStatus } from "../api/status.js";

/**
 * The runs are polled close together after a change, when the next tends to follow within
 * milliseconds (a task ends, the next starts, the run settles), and further apart the longer
 * nothing has moved, up to MAX_POLL_MS: a settled run is seen about a tenth of its last task's
 * time after it settled, not half a fixed interval on average. A poll costs each side about 2 ms
 * of CPU on a busy 2-core machine, so while a run measures its version (a load test, a canary
 * step, a rightsizing trial) the polls stay MAX_POLL_MS apart, out of the measurement's way.
 */
const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 250;
const MEASURING_TASKS = new Set(["test", "canary", "rightsize"]);
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
  const reasonShown = new Set<string>();
  const lines = printLine === undefined ? undefined : new ProgressLines(printLine, live, started);
  const print = lines === undefined ? undefined : (line: string): void => lines.print(line);
  const showProgress = (run: RunView, text: string): void => lines?.progress(run, text);
  let changedAt = Date.now();
  for (;;) {
    const { runs } = await client.call(listRuns, { query: { ship: shipId } });
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
        changedAt = Date.now();
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
    const measuring = runs.some(isMeasuring);
    await new Promise((resolve) => setTimeout(resolve, pollInterval(Date.now() - changedAt, measuring)));
  }
}

/** Whether the run is putting load on its version now (a task of several targets is "test <target>") */
function isMeasuring(run: RunView): boolean {
  return run.state === "running" && MEASURING_TASKS.has(run.task?.split(" ")[0] ?? "");
}

/**
 * A line per change, and a long task's progress between them: rewritten in place on a terminal,
 * at most every PIPE_PROGRESS_MS in a log.
 */
class ProgressLines {
  private open = false;
  private readonly shownAt = new Map<string, number>();

  constructor(
    private readonly printLine: (line: string) => void,
    private readonly live: boolean,
    private readonly started: number,
  ) {}

  print(line: string): void {
    if (this.open) this.printLine("\n");
    this.open = false;
    this.printLine(line);
  }

  progress(run: RunView, text: string): void {
    const line = `${elapsed(this.started).padStart(7)}  [${run.stage}] ${visible(run.version)} ${run.task ?? ""}: ${visible(text)}`;
    if (this.live) {
      this.printLine(`\r\u001b[2K${line}`);
      this.open = true;
    } else if (Date.now() - (this.shownAt.get(run.id) ?? 0) >= PIPE_PROGRESS_MS) {
      this.shownAt.set(run.id, Date.now());
      this.printLine(`${line}\n`);
    }
  }
}

/**
 * Follows one run (an approved one on to its release, a rightsizing experiment) until it finishes,
 * with its task's progress; returns it then. Without `print`, silently.
 */
export async function followRun(
  client: ApiClient,
  runId: string,
  print: ((line: string) => void) | undefined,
  live: boolean = process.stdout.isTTY === true,
): Promise<RunView> {
  const started = Date.now();
  const lines = print === undefined ? undefined : new ProgressLines(print, live, started);
  let last = "";
  let changedAt = Date.now();
  for (;;) {
    const run = await client.call(getRun, { params: { id: runId } });
    const line = describe(run, false);
    if (line !== last) {
      last = line;
      changedAt = Date.now();
      lines?.print(`${elapsed(started).padStart(7)}  ${line}\n`);
    } else if (run.progress !== undefined) {
      lines?.progress(run, run.progress);
    }
    if (run.state === "succeeded" || run.state === "failed") {
      lines?.print("");
      return run;
    }
    await new Promise((resolve) =>
      setTimeout(resolve, pollInterval(Date.now() - changedAt, isMeasuring(run))),
    );
  }
}

/** How long to wait before the next poll, when nothing has changed for `quietMs` */
export function pollInterval(quietMs: number, measuring: boolean): number {
  if (measuring) return MAX_POLL_MS;
  return Math.round(Math.min(MAX_POLL_MS, FIRST_POLL_MS + Math.max(0, quietMs) / 10));
}

/** The gate's verdict for a settled run that had one */
async function gateLine(client: ApiClient, run: RunView): Promise<string | undefined> {
  const detail = await client.call(getRun, { params: { id: run.id } });
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
      return `${where} ${run.kind === "rightsize" ? "rightsized" : "released"}`;
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
  const status = await client.call(getStatus, { query: { service } });
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
