import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { freshDatabase, postgresAvailability } from "../testing/postgres.js";
import { EnvSealer } from "./env-sealer.js";
import { IntegrationStore, type FanOutEvent, type IntegrationTables } from "./integration-store.js";
import { migrateToLatest } from "./migrator.js";
import { openSqliteDatabase } from "./sqlite-store.js";

const postgres = postgresAvailability();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Two handles on one fresh, migrated database: on PostgreSQL two pools, as two replicas have. */
async function openDatabase(backend: "sqlite" | "postgres"): Promise<Kysely<IntegrationTables>[]> {
  if (backend === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "waybill-integrations-"));
    const db = await openSqliteDatabase(join(dir, "waybill.db"));
    cleanups.push(async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    });
    const shared = db as unknown as Kysely<IntegrationTables>;
    return [shared, shared];
  }
  const database = await freshDatabase();
  const handles = [0, 1].map(
    () =>
      new Kysely<IntegrationTables>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 4 }) }),
      }),
  );
  cleanups.push(async () => {
    for (const handle of handles) await handle.destroy();
    await database.drop();
  });
  await migrateToLatest(handles[0] as unknown as Kysely<unknown>, database.name);
  return handles;
}

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();

function logEvent(seq: number, type: string): FanOutEvent {
  return { seq, id: `event-${seq}`, type, time: at(seq), payload: JSON.stringify({ id: `event-${seq}` }) };
}

const takesRunEvents = (_subscription: unknown, event: FanOutEvent) => event.type.startsWith("run.");

for (const backend of ["sqlite", "postgres"] as const) {
  const skip = backend === "postgres" && !postgres.available ? postgres.reason : false;

  describe(`integration store on ${backend}`, { skip }, () => {
    test("records an event once per (source, id), and answers the first record to a resend", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!);
      const record = {
        source: "/ci",
        id: "e1",
        type: "dev.waybill.artifact.uploaded",
        action: "ship",
        event: { id: "e1" },
        receivedBy: "ci",
        receivedAt: at(0),
      };
      assert.deepEqual(await store.recordIntake(record, { holder: "a", until: at(60) }), { recorded: true });
      const again = await store.recordIntake(
        { ...record, receivedBy: "other" },
        { holder: "b", until: at(60) },
      );
      assert.equal(again.recorded, false);
      assert.equal(again.recorded === false && again.existing.receivedBy, "ci");
      // The same id from another source is another event.
      const fromRegistry = { ...record, source: "/registry", receivedAt: at(1) };
      assert.equal((await store.recordIntake(fromRegistry, { holder: "a", until: at(60) })).recorded, true);
      await store.finishIntake("/ci", "e1", "a", { shipId: "s1" });
      assert.deepEqual((await store.intake("/ci", "e1"))?.outcome, { shipId: "s1" });
      assert.deepEqual(
        (await store.listIntake(10)).map((event) => event.source),
        ["/registry", "/ci"],
      );
    });

    test("an event left acting is taken over only once its lease has run out, and by one holder", async () => {
      const [one, two] = await openDatabase(backend);
      const first = new IntegrationStore(one!);
      const second = new IntegrationStore(two!);
      await first.recordIntake(
        {
          source: "/ci",
          id: "e1",
          type: "t",
          action: "ship",
          event: {},
          receivedBy: "ci",
          receivedAt: at(0),
        },
        { holder: "dead", until: at(60) },
      );
      assert.equal(await second.takeOverIntake("/ci", "e1", "b", at(30), at(90)), false);
      assert.deepEqual(
        (await second.abandonedIntake(at(61))).map((event) => event.id),
        ["e1"],
      );
      const takers = await Promise.all([
        first.takeOverIntake("/ci", "e1", "a", at(61), at(120)),
        second.takeOverIntake("/ci", "e1", "b", at(61), at(120)),
      ]);
      assert.equal(takers.filter(Boolean).length, 1);
    });

    test("keeps a subscription's secret sealed at rest and opens it for the delivery", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!, EnvSealer.fromKey(EnvSealer.newKey()));
      const { subscription, secret } = await store.addSubscription({
        url: "http://127.0.0.1:9/hook",
        events: ["run.*"],
        createdBy: "admin",
        now: at(0),
      });
      assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
      const stored = await db!.selectFrom("webhook_subscriptions").select("secret").executeTakeFirstOrThrow();
      assert.ok(!stored.secret.includes(secret.slice("whsec_".length)), "the secret is stored sealed");
      assert.ok(!JSON.stringify(await store.listSubscriptions()).includes(secret.slice("whsec_".length)));
      await store.claimFanOut("a", at(1), at(60));
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents, at(1));
      const [due] = await store.dueDeliveries(at(2), 10);
      const claimed = await store.claimDelivery(due!, "a", at(2), at(60));
      assert.equal(claimed?.secret, secret);
      assert.equal(claimed?.subscriptionId, subscription.id);
    });

    test("fans each event out once per matching subscription, however often it is fanned out", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!);
      await store.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      await store.addSubscription({
        url: "http://127.0.0.1:9/b",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      const events = [
        logEvent(1, "run.queued"),
        logEvent(2, "artifact.recorded"),
        logEvent(3, "run.finished"),
      ];
      assert.equal(await store.claimFanOut("a", at(4), at(60)), 0);
      assert.equal(await store.fanOut("a", events, 3, takesRunEvents, at(4)), 4);
      // A replica that crashed before it saw the cursor move would fan the same events out again.
      await sql`update webhook_cursor set seq = 0`.execute(db!);
      assert.equal(await store.fanOut("a", events, 3, takesRunEvents, at(4)), 0);
      assert.equal((await store.deliveries()).length, 4);
    });

    test("lets only the cursor's holder fan out until its lease runs out", async () => {
      const [one, two] = await openDatabase(backend);
      const first = new IntegrationStore(one!);
      const second = new IntegrationStore(two!);
      await first.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      assert.equal(await first.claimFanOut("a", at(1), at(60)), 0);
      assert.equal(await second.claimFanOut("b", at(2), at(62)), undefined);
      assert.equal(await second.fanOut("b", [logEvent(1, "run.queued")], 1, takesRunEvents, at(2)), 0);
      assert.equal(await second.claimFanOut("b", at(61), at(120)), 0);
      assert.equal(await first.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents, at(61)), 0);
      assert.equal(await second.fanOut("b", [logEvent(1, "run.queued")], 1, takesRunEvents, at(61)), 1);
      assert.equal(await first.claimFanOut("a", at(62), at(122)), undefined);
    });

    test("gives a due delivery to one claimant, counts its attempts, and dead-letters it when told", async () => {
      const [one, two] = await openDatabase(backend);
      const first = new IntegrationStore(one!);
      const second = new IntegrationStore(two!);
      await first.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      await first.claimFanOut("a", at(1), at(60));
      await first.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents, at(1));
      const [id] = await first.dueDeliveries(at(1), 10);
      const claims = await Promise.all([
        first.claimDelivery(id!, "a", at(2), at(30)),
        second.claimDelivery(id!, "b", at(2), at(30)),
      ]);
      assert.equal(claims.filter((claim) => claim !== undefined).length, 1);
      const holder = claims[0] === undefined ? "b" : "a";
      assert.deepEqual(await first.dueDeliveries(at(3), 10), [], "a held delivery is not due");
      await first.markFailed(id!, holder, {
        error: "HTTP 500",
        status: 500,
        nextAttemptAt: at(10),
        now: at(3),
      });
      assert.deepEqual(await first.dueDeliveries(at(9), 10), []);
      const again = await second.claimDelivery(id!, "b", at(10), at(40));
      assert.equal(again?.attempts, 2);
      await second.markFailed(id!, "b", { error: "HTTP 500", status: 500, nextAttemptAt: null, now: at(11) });
      const [dead] = await first.deliveries({ state: "dead" });
      assert.equal(dead?.lastError, "HTTP 500");
      assert.equal(dead?.attempts, 2);
      assert.equal(await first.retryDeadLetter(id!, at(12)), true);
      assert.equal(await first.retryDeadLetter(id!, at(12)), false, "a pending delivery is no dead letter");
      assert.deepEqual(await first.dueDeliveries(at(12), 10), [id]);
    });

    test("records a delivery as delivered only for its holder, and never hands it out again", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!);
      await store.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      await store.claimFanOut("a", at(1), at(60));
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents, at(1));
      const [id] = await store.dueDeliveries(at(1), 10);
      await store.claimDelivery(id!, "a", at(2), at(30));
      assert.equal(await store.markDelivered(id!, "b", 200, at(3)), false);
      assert.equal(await store.markDelivered(id!, "a", 200, at(3)), true);
      assert.equal(await store.claimDelivery(id!, "b", at(100), at(130)), undefined);
      assert.deepEqual(await store.dueDeliveries(at(100), 10), []);
    });

    test("drops a delivery fanned out while its subscription was being removed", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!);
      await store.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      await store.claimFanOut("a", at(1), at(60));
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents, at(1));
      await db!.deleteFrom("webhook_subscriptions").execute();
      const [id] = await store.dueDeliveries(at(2), 10);
      assert.equal(await store.claimDelivery(id!, "a", at(2), at(30)), undefined);
      assert.deepEqual(await store.deliveries(), []);
    });

    test("removing a subscription removes its deliveries", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!);
      const { subscription } = await store.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      await store.claimFanOut("a", at(1), at(60));
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents, at(1));
      assert.equal(await store.removeSubscription(subscription.id), true);
      assert.equal(await store.removeSubscription(subscription.id), false);
      assert.deepEqual(await store.deliveries(), []);
    });
  });
}
