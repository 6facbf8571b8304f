/**
 * Health checks against an app's own port: healthy means an HTTP 2xx or 3xx answer on
 * 127.0.0.1. Used while an app starts, and to confirm a running one before reusing it; the
 * local target asks through the stage proxy with `getOnLoopback`.
 */
import { request } from "node:http";
import type { ExitStatus } from "./instance-process.js";
import { LOOPBACK } from "./ports.js";
import { formatDuration, sleep } from "./timing.js";

// A refused connection costs well under a millisecond, so probes start close together and space
// out with the time already waited: the wait overshoots an app's start-up by about a tenth of it
// (an app up in 30 ms is seen then, not a whole interval later), never by more than the ceiling.
const FIRST_PROBE_INTERVAL_MS = 5;
const PROBE_INTERVAL_MS = 100;
const MAX_PROBE_TIMEOUT_MS = 2000;

export type HealthProbe = { healthy: true } | { healthy: false; detail: string };

export type HealthWait =
  | { healthy: true }
  | { healthy: false; reason: "timeout"; detail: string }
  | { healthy: false; reason: "exited"; exit: ExitStatus }
  | { healthy: false; reason: "aborted" };

export function probeHealth(port: number, path: string, timeoutMs: number): Promise<HealthProbe> {
  return getOnLoopback(port, path, {}, timeoutMs).then((answer) =>
    "detail" in answer
      ? { healthy: false, detail: answer.detail }
      : answer.status >= 200 && answer.status < 400
        ? { healthy: true }
        : { healthy: false, detail: `HTTP ${answer.status}` },
  );
}

/** One answer to a GET on 127.0.0.1: its status and the instance that gave it (through a stage proxy) */
export type LoopbackAnswer = { status: number; instance: string | undefined } | { detail: string };

/**
 * A GET to 127.0.0.1:`port` on a connection of its own, answered once its status line and headers
 * are in (the body is read and dropped). node:http rather than fetch, whose first call in a
 * process costs about 100 ms of loading.
 */
export function getOnLoopback(
  port: number,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<LoopbackAnswer> {
  return new Promise((resolve) => {
    const probe = request(
      { host: LOOPBACK, port, path, method: "GET", headers, agent: false, timeout: timeoutMs },
      (response) => {
        response.resume();
        const instance = response.headers["x-waybill-instance"];
        resolve({
          status: response.statusCode ?? 0,
          instance: typeof instance === "string" ? instance : undefined,
        });
      },
    );
    probe.on("timeout", () => probe.destroy(new Error(`no answer within ${formatDuration(timeoutMs)}`)));
    probe.on("error", (error: NodeJS.ErrnoException) =>
      resolve({ detail: error.code === "ECONNREFUSED" ? "connection refused" : error.message }),
    );
    probe.end();
  });
}

/**
 * How long to wait after a probe that found no healthy answer, `waitedMs` into the wait: close
 * together at first, then a tenth of the time already waited, never more than `ceilingMs`.
 */
export function nextProbeDelay(waitedMs: number, ceilingMs: number): number {
  return Math.min(ceilingMs, FIRST_PROBE_INTERVAL_MS + Math.max(0, waitedMs) / 10);
}

/** Probes until healthy, the deadline, the process's exit or the abort, whichever comes first. */
export async function waitUntilHealthy(options: {
  port: number;
  path: string;
  timeoutMs: number;
  exited: Promise<ExitStatus>;
  signal?: AbortSignal;
}): Promise<HealthWait> {
  const { port, path, timeoutMs, signal } = options;
  const app: { exit: ExitStatus | null } = { exit: null };
  void options.exited.then((status) => {
    app.exit = status;
  });
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  void options.exited.then(onAbort);

  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  let lastDetail = "no check completed";
  try {
    while (true) {
      if (app.exit !== null) return { healthy: false, reason: "exited", exit: app.exit };
      if (signal?.aborted) return { healthy: false, reason: "aborted" };
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { healthy: false, reason: "timeout", detail: lastDetail };
      const probe = await probeHealth(port, path, Math.min(MAX_PROBE_TIMEOUT_MS, remaining));
      // An answer that raced with the process's exit came from someone else on the port.
      if (probe.healthy && app.exit === null) return probe;
      if (!probe.healthy) lastDetail = probe.detail;
      const interval = nextProbeDelay(Date.now() - startedAt, PROBE_INTERVAL_MS);
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), stop.signal);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

export function describeHealthFailure(
  failure: Exclude<HealthWait, { healthy: true }>,
  timeoutMs: number,
  healthPath: string,
): string {
  switch (failure.reason) {
    case "timeout":
      return `health check timed out after ${formatDuration(timeoutMs)} (GET ${healthPath}: ${failure.detail})`;
    case "exited":
      return describeExit(failure.exit);
    case "aborted":
      return "start was aborted";
  }
}

export function describeExit(exit: ExitStatus): string {
  return exit.signal !== null ? `exited on signal ${exit.signal}` : `exited with code ${exit.code}`;
}
