/**
 * Stops every app process of a control plane without it: `waybill down` when the control plane
 * is dead finds them by their marks in /proc, as recovery does, and ends each process group.
 */
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
