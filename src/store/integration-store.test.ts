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
/** Stands in for the database's clock (`clock` below), so leases run out without waiting */
let seconds = 0;
afterEach(async () => {
  seconds = 0;
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

const clock = () => Date.parse(at(seconds));

function logEvent(seq: number, type: string): FanOutEvent {
  return { seq, id: `event-${seq}`, type, time: at(seq), payload: JSON.stringify({ id: `event-${seq}` }) };
}

const takesRunEvents = (_subscription: unknown, event: FanOutEvent) => event.type.startsWith("run.");

for (const backend of ["sqlite", "postgres"] as const) {
  const skip = backend === "postgres" && !postgres.available ? postgres.reason : false;

  describe(`integration store on ${backend}`, { skip }, () => {
    test("records an event once per (source, id), and answers the first record to a resend", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!, undefined, clock);
      const record = {
        source: "/ci",
        id: "e1",
        type: "dev.waybill.artifact.uploaded",
        action: "ship",
        event: { id: "e1" },
        receivedBy: "ci",
        receivedAt: at(0),
      };
      assert.deepEqual(await store.recordIntake(record, { holder: "a", leaseMs: 60_000 }), {
        recorded: true,
      });
      const again = await store.recordIntake(
        { ...record, receivedBy: "other" },
        { holder: "b", leaseMs: 60_000 },
      );
      assert.equal(again.recorded, false);
      assert.equal(again.recorded === false && again.existing.receivedBy, "ci");
      // The same id from another source is another event.
      const fromRegistry = { ...record, source: "/registry", receivedAt: at(1) };
      assert.equal((await store.recordIntake(fromRegistry, { holder: "a", leaseMs: 60_000 })).recorded, true);
      await store.finishIntake("/ci", "e1", "a", { shipId: "s1" });
      assert.deepEqual((await store.intake("/ci", "e1"))?.outcome, { shipId: "s1" });
      assert.deepEqual(
        (await store.listIntake(10)).map((event) => event.source),
        ["/registry", "/ci"],
      );
    });

    test("an event left acting is taken over only once its lease has run out, and by one holder", async () => {
      const [one, two] = await openDatabase(backend);
      const first = new IntegrationStore(one!, undefined, clock);
      const second = new IntegrationStore(two!, undefined, clock);
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
        { holder: "dead", leaseMs: 60_000 },
      );
      seconds = 30;
      assert.equal(await second.takeOverIntake("/ci", "e1", "b", 60_000), false);
      seconds = 61;
      assert.deepEqual(
        (await second.abandonedIntake()).map((event) => event.id),
        ["e1"],
      );
      const takers = await Promise.all([
        first.takeOverIntake("/ci", "e1", "a", 59_000),
        second.takeOverIntake("/ci", "e1", "b", 59_000),
      ]);
      assert.equal(takers.filter(Boolean).length, 1);
    });

    test("sets and compares intake leases by the database's own clock, as ISO text", async () => {
      const [one, two] = await openDatabase(backend);
      const first = new IntegrationStore(one!);
      const second = new IntegrationStore(two!);
      const event = (id: string) => ({
        source: "/ci",
        id,
        type: "t",
        action: "ship",
        event: {},
        receivedBy: "ci",
        receivedAt: new Date().toISOString(),
      });
      const before = Date.now();
      await first.recordIntake(event("live"), { holder: "a", leaseMs: 60_000 });
      await first.recordIntake(event("lapsed"), { holder: "dead", leaseMs: -1_000 });
      const rows = await one!.selectFrom("intake_events").select(["id", "lease_until"]).execute();
      for (const row of rows) assert.match(row.lease_until ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const live = Date.parse(rows.find((row) => row.id === "live")?.lease_until ?? "");
      // This machine runs the test database too, so its clock and the database's agree here.
      assert.ok(Math.abs(live - (before + 60_000)) < 30_000, "a minute from the database's now");
      assert.deepEqual(
        (await second.abandonedIntake()).map((record) => record.id),
        ["lapsed"],
      );
      assert.equal(await second.takeOverIntake("/ci", "live", "b", 60_000), false);
      assert.equal(await second.takeOverIntake("/ci", "lapsed", "b", 60_000), true);
      assert.deepEqual(await second.abandonedIntake(), []);
    });

    test("keeps a subscription's secret sealed at rest and opens it for the delivery", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!, EnvSealer.fromKey(EnvSealer.newKey()), clock);
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
      seconds = 1;
      await store.claimFanOut("a", 59_000);
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents);
      seconds = 2;
      const [due] = await store.dueDeliveries(10);
      const claimed = await store.claimDelivery(due!, "a", 58_000);
      assert.equal(claimed?.secret, secret);
      assert.equal(claimed?.subscriptionId, subscription.id);
    });

    test("fans each event out once per matching subscription, however often it is fanned out", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!, undefined, clock);
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
      seconds = 4;
      assert.equal(await store.claimFanOut("a", 56_000), 0);
      assert.equal(await store.fanOut("a", events, 3, takesRunEvents), 4);
      // A replica that crashed before it saw the cursor move would fan the same events out again.
      await sql`update webhook_cursor set seq = 0`.execute(db!);
      assert.equal(await store.fanOut("a", events, 3, takesRunEvents), 0);
      assert.equal((await store.deliveries()).length, 4);
    });

    test("lets only the cursor's holder fan out until its lease runs out", async () => {
      const [one, two] = await openDatabase(backend);
      const first = new IntegrationStore(one!, undefined, clock);
      const second = new IntegrationStore(two!, undefined, clock);
      await first.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      seconds = 1;
      assert.equal(await first.claimFanOut("a", 59_000), 0);
      seconds = 2;
      assert.equal(await second.claimFanOut("b", 60_000), undefined);
      assert.equal(await second.fanOut("b", [logEvent(1, "run.queued")], 1, takesRunEvents), 0);
      seconds = 61;
      assert.equal(await second.claimFanOut("b", 59_000), 0);
      assert.equal(await first.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents), 0);
      assert.equal(await second.fanOut("b", [logEvent(1, "run.queued")], 1, takesRunEvents), 1);
      seconds = 62;
      assert.equal(await first.claimFanOut("a", 60_000), undefined);
    });

    test("gives a due delivery to one claimant, counts its attempts, and dead-letters it when told", async () => {
      const [one, two] = await openDatabase(backend);
      const first = new IntegrationStore(one!, undefined, clock);
      const second = new IntegrationStore(two!, undefined, clock);
      await first.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      seconds = 1;
      await first.claimFanOut("a", 59_000);
      await first.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents);
      const [id] = await first.dueDeliveries(10);
      seconds = 2;
      const claims = await Promise.all([
        first.claimDelivery(id!, "a", 28_000),
        second.claimDelivery(id!, "b", 28_000),
      ]);
      assert.equal(claims.filter((claim) => claim !== undefined).length, 1);
      const holder = claims[0] === undefined ? "b" : "a";
      seconds = 3;
      assert.deepEqual(await first.dueDeliveries(10), [], "a held delivery is not due");
      await first.markFailed(id!, holder, {
        error: "HTTP 500",
        status: 500,
        retryInMs: 7_000,
      });
      seconds = 9;
      assert.deepEqual(await first.dueDeliveries(10), []);
      seconds = 10;
      const again = await second.claimDelivery(id!, "b", 30_000);
      assert.equal(again?.attempts, 2);
      seconds = 11;
      await second.markFailed(id!, "b", { error: "HTTP 500", status: 500, retryInMs: null });
      const [dead] = await first.deliveries({ state: "dead" });
      assert.equal(dead?.lastError, "HTTP 500");
      assert.equal(dead?.attempts, 2);
      seconds = 12;
      assert.equal(await first.retryDeadLetter(id!), true);
      assert.equal(await first.retryDeadLetter(id!), false, "a pending delivery is no dead letter");
      assert.deepEqual(await first.dueDeliveries(10), [id]);
    });

    test("records a delivery as delivered only for its holder, and never hands it out again", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!, undefined, clock);
      await store.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      seconds = 1;
      await store.claimFanOut("a", 59_000);
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents);
      const [id] = await store.dueDeliveries(10);
      seconds = 2;
      await store.claimDelivery(id!, "a", 28_000);
      seconds = 3;
      assert.equal(await store.markDelivered(id!, "b", 200), false);
      assert.equal(await store.markDelivered(id!, "a", 200), true);
      seconds = 100;
      assert.equal(await store.claimDelivery(id!, "b", 30_000), undefined);
      assert.deepEqual(await store.dueDeliveries(10), []);
    });

    test("drops a delivery fanned out while its subscription was being removed", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!, undefined, clock);
      await store.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      seconds = 1;
      await store.claimFanOut("a", 59_000);
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents);
      await db!.deleteFrom("webhook_subscriptions").execute();
      seconds = 2;
      const [id] = await store.dueDeliveries(10);
      assert.equal(await store.claimDelivery(id!, "a", 28_000), undefined);
      assert.deepEqual(await store.deliveries(), []);
    });

    test("removing a subscription removes its deliveries", async () => {
      const [db] = await openDatabase(backend);
      const store = new IntegrationStore(db!, undefined, clock);
      const { subscription } = await store.addSubscription({
        url: "http://127.0.0.1:9/a",
        events: ["*"],
        createdBy: "admin",
        now: at(0),
      });
      seconds = 1;
      await store.claimFanOut("a", 59_000);
      await store.fanOut("a", [logEvent(1, "run.queued")], 1, takesRunEvents);
      assert.equal(await store.removeSubscription(subscription.id), true);
      assert.equal(await store.removeSubscription(subscription.id), false);
      assert.deepEqual(await store.deliveries(), []);
    });
  });
}
