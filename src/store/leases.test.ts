import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import pg from "pg";
import { freshDatabase, postgresAvailability } from "../testing/postgres.js";
import { newEvent } from "./events.js";
import { LeaseLostError, type LeaseHolder } from "./leases.js";
import { openStore } from "./open-store.js";
import type { KyselyStore } from "./kysely-store.js";

const postgres = postgresAvailability();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Place {
  /** Two connections to one database, as two replicas would have */
  stores: [KyselyStore, KyselyStore];
  url?: string;
}

async function sqlitePlace(): Promise<Place> {
  const dir = mkdtempSync(join(tmpdir(), "waybill-leases-"));
  const opened = await openStore({ stateDir: dir });
  cleanups.push(async () => {
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // The embedded store has one process; both "replicas" share its connection.
  return { stores: [opened.store, opened.store] };
}

async function postgresPlace(): Promise<Place> {
  const database = await freshDatabase();
  cleanups.push(() => database.drop());
  const open = async () => {
    const dir = mkdtempSync(join(tmpdir(), "waybill-leases-"));
    const opened = await openStore({ stateDir: dir, databaseUrl: database.url });
    cleanups.push(async () => {
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return opened.store;
  };
  return { stores: [await open(), await open()], url: database.url };
}

const backends = [
  { name: "sqlite", skip: false as string | false, place: sqlitePlace },
  { name: "postgres", skip: postgres.available ? false : postgres.reason, place: postgresPlace },
];

const a: LeaseHolder = { replica: "m1/10/aaaa", machine: "m1" };
const b: LeaseHolder = { replica: "m2/20/bbbb", machine: "m2" };
const long = { ttlMs: 60_000 };
/** A lease that has run out by the time anyone looks at it again */
const spent = { ttlMs: 0 };

const started = (runId: string) =>
  newEvent("task.started", `runs/${runId}`, { task: "deploy", attempt: 1 }, runId);

for (const backend of backends) {
  describe(`run leases on ${backend.name}`, { skip: backend.skip }, () => {
    test("a free run is claimed, renewed by its holder, and held against another", async () => {
      const { stores } = await backend.place();
      const [first, second] = stores;
      assert.deepEqual(await first.claimRun("r1", a, long), { kind: "claimed", fence: 1 });
      assert.deepEqual(await first.claimRun("r1", a, long), { kind: "renewed", fence: 1 });
      assert.deepEqual(await second.claimRun("r1", b, long), { kind: "held", by: a.replica });
      assert.equal(await first.renewRun("r1", a.replica, 60_000), true);
      assert.equal(await second.renewRun("r1", b.replica, 60_000), false);
    });

    test("a released run is claimed by another at once; an expired one is taken over, naming its holder", async () => {
      const [first, second] = (await backend.place()).stores;
      await first.claimRun("released", a, long);
      await first.releaseRun("released", a.replica);
      assert.deepEqual(await second.claimRun("released", b, long), { kind: "claimed", fence: 2 });

      await first.claimRun("expired", a, spent);
      assert.deepEqual(await second.claimRun("expired", b, long), {
        kind: "taken-over",
        from: a.replica,
        fence: 2,
      });
      assert.equal(await first.renewRun("expired", a.replica, 60_000), false, "the old holder cannot renew");
    });

    test("the only replica there can be takes a predecessor's live lease", async () => {
      const [first, second] = (await backend.place()).stores;
      await first.claimRun("r1", a, long);
      assert.deepEqual(await second.claimRun("r1", b, { ...long, soleReplica: true }), {
        kind: "taken-over",
        from: a.replica,
        fence: 2,
      });
    });

    test("an append fenced by a lost lease is refused and writes nothing", async () => {
      const [first, second] = (await backend.place()).stores;
      await first.claimRun("r1", a, spent);
      await first.append([started("r1")], { fence: { runId: "r1", replica: a.replica } });
      await second.claimRun("r1", b, long);
      await assert.rejects(
        first.append([started("r1")], { fence: { runId: "r1", replica: a.replica } }),
        LeaseLostError,
      );
      await assert.rejects(
        first.append([started("never-claimed")], { fence: { runId: "never-claimed", replica: a.replica } }),
        LeaseLostError,
      );
      await second.append([started("r1")], { fence: { runId: "r1", replica: b.replica } });
      assert.equal((await first.events({ run: "r1" })).length, 2);
    });

    test("a local stage belongs to the machine that first claimed a run of it", async () => {
      const [first, second] = (await backend.place()).stores;
      const localStage = { service: "hello", stage: "dev" };
      assert.equal((await first.claimRun("r1", a, { ...long, localStage })).kind, "claimed");
      await first.releaseRun("r1", a.replica);
      assert.deepEqual(await second.claimRun("r2", b, { ...long, localStage }), {
        kind: "other-machine",
        machine: "m1",
      });
      assert.deepEqual(await second.claimRun("r1", b, { ...long, localStage }), {
        kind: "other-machine",
        machine: "m1",
      });
      assert.equal(
        (await second.claimRun("r3", b, { ...long, localStage: { service: "hello", stage: "prod" } })).kind,
        "claimed",
      );
      assert.equal(
        (await first.claimRun("r2", { replica: "m1/11/cccc", machine: "m1" }, { ...long, localStage })).kind,
        "claimed",
      );
    });
  });
}

describe(
  "run leases on postgres, under contention",
  { skip: postgres.available ? false : postgres.reason },
  () => {
    test(
      "a lease row another replica has locked is skipped, not waited for",
      { timeout: 30_000 },
      async () => {
        const { stores, url } = await postgresPlace();
        const [first] = stores;
        await first.claimRun("r1", a, spent);
        await first.releaseRun("r1", a.replica);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query("begin");
          await client.query("select * from run_leases where run_id = 'r1' for update");
          assert.equal((await first.claimRun("r1", b, long)).kind, "held");
          await client.query("rollback");
          assert.equal((await first.claimRun("r1", b, long)).kind, "claimed");
        } finally {
          await client.end();
        }
      },
    );

    test("of replicas claiming one run at the same moment, exactly one gets it", async () => {
      const { stores } = await postgresPlace();
      const holders = Array.from({ length: 8 }, (_, i) => ({ replica: `m${i}/${i}/x`, machine: `m${i}` }));
      const claims = await Promise.all(
        holders.map((holder, i) => stores[i % 2]!.claimRun("r1", holder, long)),
      );
      assert.equal(claims.filter((claim) => claim.kind === "claimed").length, 1, JSON.stringify(claims));
    });
  },
);
