/** A load run's progress as one line for people watching it. */
import type { LoadOptions, LoadProgress } from "./types.js";

/** "load 12.0s of 30.5s: 600 sent, p95 104.2 ms, 0 errors" */
export function describeProgress(progress: LoadProgress, options: LoadOptions): string {
  const totalMs = (options.warmupMs ?? 0) + options.durationMs;
  const p95 = progress.p95Ms === null ? "no answer yet" : `p95 ${progress.p95Ms.toFixed(1)} ms`;
  const errors = `${progress.errors} error${progress.errors === 1 ? "" : "s"}`;
  return `load ${(progress.elapsedMs / 1000).toFixed(1)}s of ${(totalMs / 1000).toFixed(1)}s: ${progress.sent} sent, ${p95}, ${errors}`;
}
