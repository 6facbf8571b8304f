/**
 * Signals to whole process groups. Each app is spawned as the leader of its own group, so
 * signalling the group also reaches the helpers it started (a shell, npm, workers).
 */
import { processGroupOf } from "./recovery/process-table.js";
import { waitFor } from "./timing.js";

/** How long to wait for a process to vanish after SIGKILL before giving up. */
const AFTER_KILL_WAIT_MS = 2000;

const ownGroup = processGroupOf(process.pid);

/** Sends `signal` to the group; false when the group no longer exists. */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  // Never signal init's group or our own: a corrupted record must not take the control plane down.
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid || pgid === ownGroup) {
    throw new Error(`refusing to signal process group ${pgid}`);
  }
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * SIGTERM, then SIGKILL once `graceMs` passed or the leader has exited (SIGKILL then only
 * sweeps helpers left in the group).
 */
export async function terminateProcessGroup(
  pgid: number,
  isAlive: () => boolean,
  graceMs: number,
): Promise<void> {
  if (signalProcessGroup(pgid, "SIGTERM")) await waitFor(() => !isAlive(), graceMs);
  signalProcessGroup(pgid, "SIGKILL");
  await waitFor(() => !isAlive(), AFTER_KILL_WAIT_MS);
}
