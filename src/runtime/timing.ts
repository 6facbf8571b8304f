/** Bounded waiting: every wait in the runtime has a deadline. */
import { setTimeout as delay } from "node:timers/promises";

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal === undefined ? undefined : { signal }).catch(() => undefined);
}

/** Polls `condition` until it holds (true) or `timeoutMs` passes (false). */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
  return true;
}

/** "2s", "1.5s", "250ms": for messages a person reads. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}
