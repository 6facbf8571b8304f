/**
 * Watches running instances and brings crashed ones back. It polls instead of relying on exit
 * events because adopted processes are not our children and send us none. Crash bookkeeping
 * (backoff, when to forgive) lives here; what a crash or a restart means for records and
 * events is the runtime's, through the hooks.
 */
import type { ExitStatus, InstanceProcess } from "./instance-process.js";
import { sleep } from "./timing.js";

export interface BackoffPolicy {
  /** Delay before the first restart after a crash; it doubles with each further crash */
  initialMs: number;
  maxMs: number;
  /** Running at least this long since the last (re)start makes the next crash count as the first */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };
export const DEFAULT_POLL_INTERVAL_MS = 500;

/** The delay before restart number `attempt` (1-based) of one crash loop. */
export function restartDelayMs(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
}

/** `final`: no later attempt can succeed (the artifact was altered), so the loop stops */
export type RestartOutcome =
  { ok: true; process: InstanceProcess } | { ok: false; exit: ExitStatus | null; final?: boolean };

export interface SupervisorHooks {
  /** A watched process died, or a restart attempt failed. */
  crashed(instanceId: string, exit: ExitStatus | null): Promise<void>;
  /** One restart attempt; on abort it must clean up what it started and return. */
  restart(
    instanceId: string,
    attempt: number,
    backoffMs: number,
    signal: AbortSignal,
  ): Promise<RestartOutcome>;
  /** Runs after each poll, e.g. log rotation. */
  housekeeping(): Promise<void>;
  error(error: unknown): void;
}

interface Watched {
  process: InstanceProcess | null;
  healthySince: number;
  crashesInARow: number;
  recovery: { abort: AbortController; done: Promise<void> } | null;
}

export class Supervisor {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;
  private housekeeping: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly hooks: SupervisorHooks,
    private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly pollIntervalMs = DEFAULT_POLL_INTERVAL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.poll(), this.pollIntervalMs);
    // The control plane's server keeps the process alive; supervision alone should not.
    this.timer.unref();
  }

  /** Watches a healthy process, keeping the crash count of an instance already watched. */
  watch(instanceId: string, process: InstanceProcess): void {
    if (this.closed) return;
    const known = this.watched.get(instanceId);
    this.watched.set(instanceId, {
      process,
      healthySince: Date.now(),
      crashesInARow: known?.crashesInARow ?? 0,
      recovery: null,
    });
  }

  /** For an instance found dead at recovery: restart it at once, as a first attempt. */
  restartNow(instanceId: string): void {
    if (this.closed) return;
    const entry: Watched = { process: null, healthySince: Date.now(), crashesInARow: 0, recovery: null };
    this.watched.set(instanceId, entry);
    this.recover(instanceId, entry, { firstDelayMs: 0 });
  }

  /** Stops watching; aborts a pending or running restart and waits for it to clean up. */
  async unwatch(instanceId: string): Promise<void> {
    const entry = this.watched.get(instanceId);
    if (entry === undefined) return;
    this.watched.delete(instanceId);
    entry.recovery?.abort.abort();
    await entry.recovery?.done;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    await Promise.all([...this.watched.keys()].map((instanceId) => this.unwatch(instanceId)));
    await this.housekeeping;
  }

  private poll(): void {
    for (const [instanceId, entry] of this.watched) {
      if (entry.process === null || entry.process.isAlive()) continue;
      const exit = entry.process.exitStatus();
      entry.process = null;
      if (Date.now() - entry.healthySince >= this.backoff.resetAfterMs) entry.crashesInARow = 0;
      this.recover(instanceId, entry, { crash: exit });
    }
    // Skipped while the previous round still runs, so slow disks cannot pile rounds up.
    this.housekeeping ??= this.hooks
      .housekeeping()
      .catch((error: unknown) => this.hooks.error(error))
      .finally(() => {
        this.housekeeping = null;
      });
  }

  private recover(
    instanceId: string,
    entry: Watched,
    start: { crash: ExitStatus | null } | { firstDelayMs: number },
  ): void {
    const abort = new AbortController();
    const done = this.restartUntilHealthy(instanceId, entry, start, abort.signal)
      .catch((error: unknown) => this.hooks.error(error))
      .finally(() => {
        entry.recovery = null;
      });
    entry.recovery = { abort, done };
  }

  /** One crash loop: each failed attempt counts as another crash and doubles the delay. */
  private async restartUntilHealthy(
    instanceId: string,
    entry: Watched,
    start: { crash: ExitStatus | null } | { firstDelayMs: number },
    signal: AbortSignal,
  ): Promise<void> {
    let crash: { exit: ExitStatus | null } | null = "crash" in start ? { exit: start.crash } : null;
    let firstDelayMs = "firstDelayMs" in start ? start.firstDelayMs : null;
    while (!signal.aborted) {
      if (crash !== null)
        await this.hooks.crashed(instanceId, crash.exit).catch((error: unknown) => this.hooks.error(error));
      entry.crashesInARow += 1;
      const attempt = entry.crashesInARow;
      const backoffMs = firstDelayMs ?? restartDelayMs(attempt, this.backoff);
      firstDelayMs = null;
      await sleep(backoffMs, signal);
      if (signal.aborted) return;
      const outcome = await this.hooks
        .restart(instanceId, attempt, backoffMs, signal)
        .catch((error: unknown): RestartOutcome => {
          this.hooks.error(error);
          return { ok: false, exit: null };
        });
      // Whatever the attempt started is the runtime's to stop now; it knows the process.
      if (signal.aborted) return;
      if (outcome.ok) {
        entry.process = outcome.process;
        entry.healthySince = Date.now();
        return;
      }
      if (outcome.final === true) return;
      crash = { exit: outcome.exit };
    }
  }
}
