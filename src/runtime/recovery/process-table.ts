/**
 * Reads the kernel's process table (/proc, Linux) to find the app processes a control plane
 * started: they carry WAYBILL_CONTROL_PLANE and WAYBILL_INSTANCE in their initial environment.
 * Checking the environment, not just that a pid exists, tells our process apart from an
 * unrelated one that got the same pid after ours died.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { CONTROL_PLANE_VAR, INSTANCE_VAR } from "../identity-env.js";
import { parseProcStat } from "../process-metrics.js";
import { processExists } from "../../exec/process-exists.js";

export interface MarkedProcess {
  pid: number;
  /** Process group; an instance's group id is the pid the runtime spawned */
  pgid: number;
  instanceId: string;
}

interface Markers {
  instanceId: string;
  controlPlaneId: string;
}

const procAvailable = existsSync("/proc/self/environ");

/** Every live process started by this control plane (or by a child of one of its apps). */
export function listMarkedProcesses(controlPlaneId: string): MarkedProcess[] {
  if (!procAvailable) return [];
  const ownGroup = processGroupOf(process.pid);
  const found: MarkedProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const markers = readMarkers(pid);
    if (markers === null || markers.controlPlaneId !== controlPlaneId) continue;
    const pgid = processGroupOf(pid);
    if (pgid === null || pgid === ownGroup) continue;
    found.push({ pid, pgid, instanceId: markers.instanceId });
  }
  return found;
}

/** Whether `pid` is alive and is that instance of this control plane (not a reused pid). */
export function isInstanceProcessAlive(pid: number, instanceId: string, controlPlaneId: string): boolean {
  if (!procAvailable) return processExists(pid);
  const markers = readMarkers(pid);
  return markers !== null && markers.instanceId === instanceId && markers.controlPlaneId === controlPlaneId;
}

export function processGroupOf(pid: number): number | null {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return stat === null || stat.state === "Z" ? null : stat.pgid;
  } catch {
    return null;
  }
}

/** Zombies and processes of other users read as an empty or unreadable environment: null. */
function readMarkers(pid: number): Markers | null {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    return null;
  }
  let instanceId: string | undefined;
  let controlPlaneId: string | undefined;
  for (const variable of environ.split("\0")) {
    if (variable.startsWith(`${INSTANCE_VAR}=`)) instanceId = variable.slice(INSTANCE_VAR.length + 1);
    else if (variable.startsWith(`${CONTROL_PLANE_VAR}=`)) {
      controlPlaneId = variable.slice(CONTROL_PLANE_VAR.length + 1);
    }
  }
  return instanceId === undefined || controlPlaneId === undefined ? null : { instanceId, controlPlaneId };
}
