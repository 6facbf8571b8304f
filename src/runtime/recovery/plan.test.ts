import { test } from "node:test";
import assert from "node:assert/strict";
import { planRecovery, type RecoveryPlan } from "./plan.js";
import type { MarkedProcess } from "./process-table.js";

const leader = (pid: number, instanceId: string): MarkedProcess => ({ pid, pgid: pid, instanceId });

test("planRecovery adopts, restarts and kills orphans", () => {
  const cases: Array<{
    name: string;
    records: Array<{ id: string; pid: number | null }>;
    processes: MarkedProcess[];
    want: RecoveryPlan;
  }> = [
    {
      name: "a live stored pid is adopted",
      records: [{ id: "a", pid: 100 }],
      processes: [leader(100, "a")],
      want: { adopt: [{ instanceId: "a", pid: 100 }], restart: [], orphans: [] },
    },
    {
      name: "an app's helper in the same group is part of the instance",
      records: [{ id: "a", pid: 100 }],
      processes: [leader(100, "a"), { pid: 101, pgid: 100, instanceId: "a" }],
      want: { adopt: [{ instanceId: "a", pid: 100 }], restart: [], orphans: [] },
    },
    {
      name: "a dead stored pid is restarted",
      records: [{ id: "a", pid: 100 }],
      processes: [],
      want: { adopt: [], restart: ["a"], orphans: [] },
    },
    {
      name: "a reused pid carrying another instance is not adopted, and is an orphan",
      records: [{ id: "a", pid: 100 }],
      processes: [leader(100, "b")],
      want: { adopt: [], restart: ["a"], orphans: [{ pgid: 100, instanceId: "b" }] },
    },
    {
      name: "a record without pid adopts the process spawned before the pid was persisted",
      records: [{ id: "a", pid: null }],
      processes: [leader(200, "a")],
      want: { adopt: [{ instanceId: "a", pid: 200 }], restart: [], orphans: [] },
    },
    {
      name: "a record with a dead pid adopts a respawn whose pid was not persisted",
      records: [{ id: "a", pid: 100 }],
      processes: [leader(300, "a")],
      want: { adopt: [{ instanceId: "a", pid: 300 }], restart: [], orphans: [] },
    },
    {
      name: "a second process of a live instance is an orphan",
      records: [{ id: "a", pid: 100 }],
      processes: [leader(100, "a"), leader(300, "a")],
      want: {
        adopt: [{ instanceId: "a", pid: 100 }],
        restart: [],
        orphans: [{ pgid: 300, instanceId: "a" }],
      },
    },
    {
      name: "of several unpersisted spawns the highest pid is adopted",
      records: [{ id: "a", pid: null }],
      processes: [leader(300, "a"), leader(400, "a")],
      want: {
        adopt: [{ instanceId: "a", pid: 400 }],
        restart: [],
        orphans: [{ pgid: 300, instanceId: "a" }],
      },
    },
    {
      name: "an instance unknown to the store is an orphan",
      records: [],
      processes: [leader(500, "ghost")],
      want: { adopt: [], restart: [], orphans: [{ pgid: 500, instanceId: "ghost" }] },
    },
    {
      name: "a group whose leader died is not adopted; its leftovers are killed and the instance restarted",
      records: [{ id: "a", pid: 100 }],
      processes: [{ pid: 101, pgid: 100, instanceId: "a" }],
      want: { adopt: [], restart: ["a"], orphans: [{ pgid: 100, instanceId: "a" }] },
    },
  ];
  for (const { name, records, processes, want } of cases) {
    assert.deepEqual(planRecovery(records, processes), want, name);
  }
});
