/**
 * Follows one run for a live page: the events appended to its log since the last one sent, and
 * its state, task and progress when they change, read from the store every `pollMs`. The log is
 * the only source, so a page that reconnects with the last event's sequence number misses
 * nothing, and any replica on the same database can serve it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { EventView, RunView } from "../api/runs.js";
import type { Engine } from "../engine/engine.js";
import { findRun, publicRun } from "../engine/run-views.js";
import type { Store } from "../store/store.js";

export type RunStreamMessage =
  | { event: "event"; id: string; data: EventView }
  | { event: "run"; data: RunView }
  | { event: "end"; data: RunView };

export interface RunStreamDependencies {
  store: Store;
  engine: Pick<Engine, "liveProgress">;
}

export interface FollowOptions {
  afterSeq: number;
  pollMs: number;
  /** Events read per poll; more wait for the next one */
  batch: number;
  signal: AbortSignal;
}

const SETTLED = new Set(["succeeded", "failed"]);

export async function* followRun(
  deps: RunStreamDependencies,
  runId: string,
  options: FollowOptions,
): AsyncGenerator<RunStreamMessage> {
  let afterSeq = options.afterSeq;
  let lastView = "";
  while (!options.signal.aborted) {
    // The run is read before its events: once it reads settled, every event it had is in the log.
    const run = await findRun(deps.store, runId);
    const events = await deps.store.events({ run: runId, afterSeq, limit: options.batch });
    for (const { seq, ...event } of events) {
      afterSeq = seq;
      yield { event: "event", id: String(seq), data: event as EventView };
    }
    const progress = run.state === "running" ? deps.engine.liveProgress(run.id) : undefined;
    const view: RunView = { ...publicRun(run), ...(progress === undefined ? {} : { progress }) };
    const serialized = JSON.stringify(view);
    if (serialized !== lastView) {
      lastView = serialized;
      yield { event: "run", data: view };
    }
    if (SETTLED.has(run.state) && events.length < options.batch) {
      yield { event: "end", data: view };
      return;
    }
    try {
      await sleep(options.pollMs, undefined, { signal: options.signal });
    } catch {
      return;
    }
  }
}

/** One message in the text/event-stream format; the data is one line of JSON */
export function formatMessage(message: RunStreamMessage): string {
  const id = message.event === "event" ? `id: ${message.id}\n` : "";
  return `${id}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
}
