/**
 * Health checks against an app's own port: healthy means an HTTP 2xx or 3xx answer on
 * 127.0.0.1. Used while an app starts, and to confirm a running one before reusing it.
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
  return new Promise((resolve) => {
    const probe = request(
      { host: LOOPBACK, port, path, method: "GET", agent: false, timeout: timeoutMs },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        resolve(
          status >= 200 && status < 400 ? { healthy: true } : { healthy: false, detail: `HTTP ${status}` },
        );
      },
    );
    probe.on("timeout", () => probe.destroy(new Error(`no answer within ${formatDuration(timeoutMs)}`)));
    probe.on("error", (error: NodeJS.ErrnoException) =>
      resolve({
        healthy: false,
        detail: error.code === "ECONNREFUSED" ? "connection refused" : error.message,
      }),
    );
    probe.end();
  });
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
      const interval = Math.min(PROBE_INTERVAL_MS, FIRST_PROBE_INTERVAL_MS + (Date.now() - startedAt) / 10);
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
