/**
 * What to do after a control-plane restart, decided purely from the stored instances and the
 * marked processes found running, so every case is table-tested. Instances are whole process
 * groups: the runtime spawns each app as the leader of its own group, and an app's helpers
 * share that group.
 */
import type { InstanceRecord } from "../types.js";
import type { MarkedProcess } from "./process-table.js";

export interface RecoveryPlan {
  /** Stored instances whose process still runs; pid may differ from the stored one */
  adopt: Array<{ instanceId: string; pid: number }>;
  /** Stored instances with no process left */
  restart: string[];
  /** Process groups no stored instance owns: kill them, so none holds a port or runs unseen */
  orphans: Array<{ pgid: number; instanceId: string }>;
}

export function planRecovery(
  records: ReadonlyArray<Pick<InstanceRecord, "id" | "pid">>,
  processes: readonly MarkedProcess[],
): RecoveryPlan {
  const groups = new Map<number, MarkedProcess[]>();
  for (const marked of processes) {
    groups.set(marked.pgid, [...(groups.get(marked.pgid) ?? []), marked]);
  }
  const leaderOf = (pgid: number): MarkedProcess | undefined =>
    groups.get(pgid)?.find((member) => member.pid === pgid);

  const claimed = new Set<number>();
  const adopt: RecoveryPlan["adopt"] = [];
  const unresolved: string[] = [];
  for (const record of records) {
    if (record.pid !== null && leaderOf(record.pid)?.instanceId === record.id) {
      adopt.push({ instanceId: record.id, pid: record.pid });
      claimed.add(record.pid);
    } else {
      unresolved.push(record.id);
    }
  }

  // No live stored pid, yet a group of this instance runs: the control plane died between
  // spawning and persisting the pid. Adopt one such group (the highest pid, usually the newest);
  // any other is an orphan.
  const restart: string[] = [];
  for (const instanceId of unresolved) {
    const newest = [...groups.keys()]
      .filter((pgid) => !claimed.has(pgid) && leaderOf(pgid)?.instanceId === instanceId)
      .sort((a, b) => b - a)[0];
    if (newest === undefined) {
      restart.push(instanceId);
    } else {
      adopt.push({ instanceId, pid: newest });
      claimed.add(newest);
    }
  }

  const orphans: RecoveryPlan["orphans"] = [];
  for (const [pgid, members] of groups) {
    if (claimed.has(pgid)) continue;
    const named = leaderOf(pgid) ?? members[0];
    if (named !== undefined) orphans.push({ pgid, instanceId: named.instanceId });
  }
  return { adopt, restart, orphans };
}
