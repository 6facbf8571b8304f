/**
 * Stops every app process of a control plane without it, and its data plane: `waybill down` when the control plane
 * is dead finds them by their marks in /proc, as recovery does, and ends each process group.
 */
import { existsSync, readFileSync } from "node:fs";
import { dataPlaneInfoFile } from "./data-plane-daemon.js";
import { terminateProcessGroup } from "./process-group.js";
import { isInstanceProcessAlive, listMarkedProcesses } from "./recovery/process-table.js";

export async function stopMarkedProcesses(controlPlaneId: string, graceMs: number): Promise<number> {
  const groups = new Map(
    listMarkedProcesses(controlPlaneId).map((marked) => [marked.pgid, marked.instanceId]),
  );
  await Promise.all(
    [...groups].map(([pgid, instanceId]) =>
      terminateProcessGroup(pgid, () => isInstanceProcessAlive(pgid, instanceId, controlPlaneId), graceMs),
    ),
  );
  return groups.size;
}

/** Ends the data plane process of a state directory, if one runs; true when one was stopped. */
export async function stopDataPlaneProcess(stateDir: string, graceMs: number): Promise<boolean> {
  const file = dataPlaneInfoFile(stateDir);
  if (!existsSync(file)) return false;
  let pid: number | undefined;
  try {
    pid = (JSON.parse(readFileSync(file, "utf8")) as { pid?: number }).pid;
  } catch {
    return false;
  }
  if (pid === undefined || !isDataPlaneProcess(pid)) return false;
  await terminateProcessGroup(pid, () => isDataPlaneProcess(pid), graceMs);
  return true;
}

/** A pid can be reused: only a process running the data plane's entry counts. */
export function isDataPlaneProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .some((arg) => arg.endsWith("data-plane-main.js"));
  } catch {
    return false;
  }
}
