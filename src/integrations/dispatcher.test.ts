import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { newEvent } from "../store/events.js";
import { IntegrationStore, type IntegrationTables } from "../store/integration-store.js";
import { KyselyStore } from "../store/kysely-store.js";
import { openPostgresStore } from "../store/postgres-store.js";
import type { Database as Tables } from "../store/schema.js";
import { openSqliteDatabase } from "../store/sqlite-store.js";
import type { Store } from "../store/store.js";
import { freshDatabase, postgresAvailability } from "../testing/postgres.js";
import { WebhookDispatcher, dispatcherSettingsFromEnv, type DispatcherSettings } from "./dispatcher.js";
import { addSubscription, retryDeadLetter } from "./subscriptions.js";

const postgres = postgresAvailability();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One database seen by two replicas: each its own store and integration store (on SQLite, one connection). */
interface Replica {
  store: Store;
  integrations: IntegrationStore;
}

/** Two replicas on one fresh database; `clock` stands in for the database's, for tests that step time */
async function twoReplicas(
  backend: "sqlite" | "postgres",
  clock?: { now: () => number },
): Promise<[Replica, Replica]> {
  if (backend === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "waybill-webhooks-"));
    const db = await openSqliteDatabase(join(dir, "waybill.db"));
    cleanups.push(async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    });
    const store = new KyselyStore(
      db as unknown as Kysely<Tables>,
      "sqlite",
      undefined,
      async () => undefined,
    );
    const integrations = () =>
      new IntegrationStore(db as unknown as Kysely<IntegrationTables>, undefined, clock?.now);
    const replica = { store, integrations: integrations() };
    return [replica, { ...replica, integrations: integrations() }];
  }
  const database = await freshDatabase();
  // Dropped last, once every connection to it is closed.
  cleanups.push(() => database.drop());
  const replicas: Replica[] = [];
  for (let index = 0; index < 2; index++) {
    const store = await openPostgresStore(database.url, { maxConnections: 4 });
    const db = new Kysely<IntegrationTables>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 4 }) }),
    });
    cleanups.push(async () => {
      await store.close();
      await db.destroy();
    });
    replicas.push({ store, integrations: new IntegrationStore(db, undefined, clock?.now) });
  }
  return [replicas[0]!, replicas[1]!];
}

interface Received {
  webhookId: string;
  eventId: string;
  type: string;
  contentType: string | undefined;
}

/**
 * A real HTTP receiver on 127.0.0.1 that verifies every request's Standard Webhooks signature
 * with the subscription's secret (a request that fails verification is answered 401 and not
 * counted), then answers what `answer` says.
 */
async function receiver(answer: (count: number) => number | "hang" = () => 204) {
  const received: Received[] = [];
  const refused: string[] = [];
  let secret = "";
  let requests = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let event: { id: string; type: string };
      try {
        event = new Webhook(secret).verify(body, headersOf(request.headers)) as { id: string; type: string };
      } catch (error) {
        refused.push((error as Error).message);
        response.writeHead(401).end();
        return;
      }
      const outcome = answer(++requests);
      if (outcome === "hang") return;
      if (outcome >= 200 && outcome < 300) {
        received.push({
          webhookId: String(request.headers["webhook-id"]),
          eventId: event.id,
          type: event.type,
          contentType: request.headers["content-type"],
        });
      }
      response.writeHead(outcome).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    refused,
    requests: () => requests,
    useSecret(value: string) {
      secret = value;
    },
  };
}

function headersOf(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(",") : (value ?? ""),
    ]),
  );
}

/** A clock the test moves, so backoff is stepped through without waiting */
function testClock() {
  let now = Date.now();
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

const fast: Partial<DispatcherSettings> = {
  pollIntervalMs: 10,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  maxAttempts: 4,
  requestTimeoutMs: 2_000,
};

async function runEvent(store: Store, run: string, attempt = 1) {
  const [event] = await store.append([
    newEvent("task.started", `runs/${run}`, { task: "deploy", attempt }, run),
  ]);
  return event!;
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("webhook backoff", () => {
  const dispatcher = (random: number) =>
    new WebhookDispatcher({
      store: { events: async () => [] },
      integrations: {} as IntegrationStore,
      settings: { backoffBaseMs: 1000, backoffMaxMs: 10_000 },
      random: () => random,
    });
  const cases: [failedAttempts: number, random: number, expectedMs: number][] = [
    [1, 0, 500],
    [1, 1, 1000],
    [2, 0, 1000],
    [3, 0.5, 3000],
    [4, 1, 8000],
    [5, 1, 10_000],
    [12, 0, 5000],
  ];
  for (const [failedAttempts, random, expectedMs] of cases) {
    test(`after ${failedAttempts} failed attempt(s), with jitter ${random}, waits ${expectedMs} ms`, () => {
      assert.equal(dispatcher(random).backoffMs(failedAttempts), expectedMs);
    });
  }
});

describe("WAYBILL_WEBHOOK_BACKOFF", () => {
  const taken: [given: string | undefined, settings: Partial<DispatcherSettings>][] = [
    [undefined, {}],
    ["", {}],
    ["200ms", { backoffBaseMs: 200 }],
    [" 1m ", { backoffBaseMs: 60_000 }],
    ["30m", { backoffBaseMs: 1_800_000 }],
  ];
  for (const [given, settings] of taken) {
    test(`${JSON.stringify(given)} sets ${JSON.stringify(settings)}`, () => {
      assert.deepEqual(dispatcherSettingsFromEnv({ WAYBILL_WEBHOOK_BACKOFF: given }), settings);
    });
  }
  const refused: [given: string, message: RegExp][] = [
    ["soon", /WAYBILL_WEBHOOK_BACKOFF: invalid duration "soon"/],
    ["5", /WAYBILL_WEBHOOK_BACKOFF: invalid duration "5"/],
    ["50ms", /WAYBILL_WEBHOOK_BACKOFF is 50ms: .* from 100ms to 30m/],
    ["2h", /WAYBILL_WEBHOOK_BACKOFF is 2h: .* from 100ms to 30m/],
  ];
  for (const [given, message] of refused) {
    test(`refuses ${given}`, () => {
      assert.throws(() => dispatcherSettingsFromEnv({ WAYBILL_WEBHOOK_BACKOFF: given }), message);
    });
  }
});

for (const backend of ["sqlite", "postgres"] as const) {
  const skip = backend === "postgres" && !postgres.available ? postgres.reason : false;

  describe(`webhook delivery on ${backend}`, { skip }, () => {
    test("delivers each run event, signed, to a real receiver that verifies the signature", async () => {
      const [replica] = await twoReplicas(backend);
      const hook = await receiver();
      const { secret } = await addSubscription(
        replica.integrations,
        { url: hook.url, events: ["task.*"] },
        "admin",
      );
      hook.useSecret(secret);
      const finishedOnly = await receiver();
      const other = await addSubscription(
        replica.integrations,
        { url: finishedOnly.url, events: ["dev.waybill.run.finished"] },
        "admin",
      );
      finishedOnly.useSecret(other.secret);
      await replica.store.append([
        newEvent("service.registered", "services/api", { name: "api", dir: "/x", stages: [] }),
      ]);
      const event = await runEvent(replica.store, "run-1");
      const dispatcher = new WebhookDispatcher({ ...replica, settings: fast });
      await dispatcher.runOnce();
      assert.deepEqual(hook.refused, []);
      assert.equal(hook.received.length, 1, "one run event; service.registered is no run event");
      assert.equal(hook.received[0]?.eventId, event.id);
      assert.equal(hook.received[0]?.type, "dev.waybill.task.started");
      assert.equal(hook.received[0]?.contentType, "application/cloudevents+json");
      assert.match(hook.received[0]?.webhookId ?? "", /^msg_/);
      assert.equal(finishedOnly.requests(), 0, "a subscription gets only the types it names");
      await dispatcher.runOnce();
      assert.equal(hook.requests(), 1, "a delivered event is not sent again");
    });

    test("retries a receiver that fails twice, with backoff, and then records it delivered", async () => {
      const clock = testClock();
      const [replica] = await twoReplicas(backend, clock);
      const hook = await receiver((count) => (count <= 2 ? 503 : 200));
      const { secret } = await addSubscription(
        replica.integrations,
        { url: hook.url, events: ["*"] },
        "admin",
      );
      hook.useSecret(secret);
      await runEvent(replica.store, "run-1");
      const dispatcher = new WebhookDispatcher({
        ...replica,
        settings: fast,
        now: clock.now,
        random: () => 0,
      });
      await dispatcher.runOnce();
      assert.equal(hook.requests(), 1);
      const [pending] = await replica.integrations.deliveries();
      assert.equal(pending?.state, "pending");
      assert.equal(pending?.lastError, "the receiver answered HTTP 503");
      assert.equal(
        Date.parse(pending!.nextAttemptAt) - clock.now(),
        500,
        "half the first backoff, with no jitter",
      );
      await dispatcher.runOnce();
      assert.equal(hook.requests(), 1, "nothing is sent before the backoff is over");
      clock.advance(500);
      await dispatcher.runOnce();
      assert.equal(hook.requests(), 2);
      const [second] = await replica.integrations.deliveries();
      assert.equal(Date.parse(second!.nextAttemptAt) - clock.now(), 1000, "the backoff doubles");
      clock.advance(1000);
      await dispatcher.runOnce();
      const [delivered] = await replica.integrations.deliveries();
      assert.equal(delivered?.state, "delivered");
      assert.equal(delivered?.attempts, 3);
      assert.equal(hook.received.length, 1);
      assert.deepEqual(hook.refused, []);
    });

    test("a receiver that always fails ends in the dead-letter list, from which an admin can retry it", async () => {
      const clock = testClock();
      const [replica] = await twoReplicas(backend, clock);
      let healthy = false;
      const hook = await receiver(() => (healthy ? 200 : 500));
      const { secret } = await addSubscription(
        replica.integrations,
        { url: hook.url, events: ["*"] },
        "admin",
      );
      hook.useSecret(secret);
      await runEvent(replica.store, "run-1");
      const dispatcher = new WebhookDispatcher({ ...replica, settings: fast, now: clock.now });
      for (let round = 0; round < 6; round++) {
        await dispatcher.runOnce();
        clock.advance(10_000);
      }
      assert.equal(hook.requests(), fast.maxAttempts, "as many attempts as allowed, no more");
      const [dead] = await replica.integrations.deliveries({ state: "dead" });
      assert.equal(dead?.attempts, fast.maxAttempts);
      assert.equal(dead?.lastStatus, 500);
      healthy = true;
      await retryDeadLetter(replica.integrations, dead!.id);
      await dispatcher.runOnce();
      assert.equal(hook.received.length, 1);
      assert.deepEqual(await replica.integrations.deliveries({ state: "dead" }), []);
    });

    test("a dispatcher stopped mid-retry is followed by a new one that delivers the pending attempt once", async () => {
      const clock = testClock();
      const [first, second] = await twoReplicas(backend, clock);
      const hook = await receiver((count) => (count === 1 ? 500 : 200));
      const { secret } = await addSubscription(first.integrations, { url: hook.url, events: ["*"] }, "admin");
      hook.useSecret(secret);
      await runEvent(first.store, "run-1");
      const before = new WebhookDispatcher({ ...first, settings: fast, now: clock.now });
      await before.runOnce();
      await before.stop();
      assert.equal(hook.requests(), 1);
      clock.advance(60_000);
      const after = new WebhookDispatcher({ ...second, settings: fast, now: clock.now });
      await after.runOnce();
      await after.runOnce();
      assert.equal(hook.received.length, 1);
      assert.equal(hook.requests(), 2);
    });

    test("a delivery whose sender died mid-request is sent again after its lease, with the same webhook-id", async () => {
      const clock = testClock();
      const [first, second] = await twoReplicas(backend, clock);
      const hook = await receiver();
      const { secret } = await addSubscription(first.integrations, { url: hook.url, events: ["*"] }, "admin");
      hook.useSecret(secret);
      await runEvent(first.store, "run-1");
      const dispatcher = new WebhookDispatcher({ ...second, settings: fast, now: clock.now });
      // The dead replica fanned out and claimed the delivery, then died before it sent anything.
      const dead = new WebhookDispatcher({ ...first, settings: { ...fast, concurrency: 0 }, now: clock.now });
      await dead.runOnce();
      const [id] = await first.integrations.dueDeliveries(10);
      await first.integrations.claimDelivery(id!, "dead-replica", 60_000);
      await dispatcher.runOnce();
      assert.equal(hook.requests(), 0, "the claim is honoured while its lease runs");
      clock.advance(60_001);
      await dispatcher.runOnce();
      assert.equal(hook.received.length, 1);
      assert.equal(hook.received[0]?.webhookId, id);
      const [delivery] = await first.integrations.deliveries();
      assert.equal(delivery?.attempts, 2, "the dead replica's claim counted as an attempt");
    });

    test("a replica whose clock runs two minutes ahead cannot take a delivery another replica holds", async () => {
      const [first, second] = await twoReplicas(backend);
      const hook = await receiver();
      const { secret } = await addSubscription(first.integrations, { url: hook.url, events: ["*"] }, "admin");
      hook.useSecret(secret);
      await runEvent(first.store, "run-1");
      const holder = new WebhookDispatcher({ ...first, settings: { ...fast, concurrency: 0 } });
      await holder.runOnce();
      const [id] = await first.integrations.dueDeliveries(10);
      assert.ok(await first.integrations.claimDelivery(id!, "live-replica", 60_000));
      const ahead = new WebhookDispatcher({
        ...second,
        settings: fast,
        now: () => Date.now() + 120_000,
      });
      await ahead.runOnce();
      assert.equal(hook.requests(), 0, "the live lease is the database's, not the skewed clock's");
      const [delivery] = await first.integrations.deliveries();
      assert.equal(delivery?.attempts, 1);
    });

    test("a replica whose clock runs two minutes behind still delivers what another replica fanned out", async () => {
      const [first, second] = await twoReplicas(backend);
      const hook = await receiver();
      const { secret } = await addSubscription(first.integrations, { url: hook.url, events: ["*"] }, "admin");
      hook.useSecret(secret);
      await runEvent(first.store, "run-1");
      await new WebhookDispatcher({ ...first, settings: { ...fast, concurrency: 0 } }).runOnce();
      const behind = new WebhookDispatcher({
        ...second,
        settings: fast,
        now: () => Date.now() - 120_000,
      });
      await behind.runOnce();
      assert.equal(hook.received.length, 1);
      assert.deepEqual(hook.refused, []);
      const [delivery] = await first.integrations.deliveries();
      assert.equal(delivery?.state, "delivered");
    });

    test("a receiver that does not answer is cut off by the timeout and tried again", async () => {
      const clock = testClock();
      const [replica] = await twoReplicas(backend, clock);
      const hook = await receiver((count) => (count === 1 ? "hang" : 200));
      const { secret } = await addSubscription(
        replica.integrations,
        { url: hook.url, events: ["*"] },
        "admin",
      );
      hook.useSecret(secret);
      await runEvent(replica.store, "run-1");
      const dispatcher = new WebhookDispatcher({
        ...replica,
        settings: { ...fast, requestTimeoutMs: 200 },
        now: clock.now,
      });
      await dispatcher.runOnce();
      const [pending] = await replica.integrations.deliveries();
      assert.equal(pending?.lastError, "the receiver did not answer within 200 ms");
      clock.advance(60_000);
      await dispatcher.runOnce();
      assert.equal(hook.received.length, 1);
    });

    test("two dispatchers on one database deliver each event exactly once", async () => {
      const [first, second] = await twoReplicas(backend);
      const hook = await receiver();
      const { secret } = await addSubscription(first.integrations, { url: hook.url, events: ["*"] }, "admin");
      hook.useSecret(secret);
      const dispatchers = [
        new WebhookDispatcher({ ...first, settings: { ...fast, batchSize: 7 } }),
        new WebhookDispatcher({ ...second, settings: { ...fast, batchSize: 7 } }),
      ];
      for (const dispatcher of dispatchers) dispatcher.start();
      cleanups.push(async () => {
        for (const dispatcher of dispatchers) await dispatcher.stop();
      });
      const events = 40;
      for (let index = 0; index < events; index++) {
        await runEvent(index % 2 === 0 ? first.store : second.store, `run-${index % 5}`, index);
      }
      await until(() => hook.received.length >= events, `${events} events were delivered`);
      // Further rounds of both must send nothing more.
      const settled = hook.requests();
      for (const dispatcher of dispatchers) await dispatcher.stop();
      for (const dispatcher of dispatchers) await dispatcher.runOnce();
      assert.equal(hook.requests(), settled);
      const perEvent = new Map<string, number>();
      for (const delivery of hook.received)
        perEvent.set(delivery.eventId, (perEvent.get(delivery.eventId) ?? 0) + 1);
      assert.equal(perEvent.size, events);
      assert.deepEqual([...new Set(perEvent.values())], [1], "every event exactly once");
      assert.deepEqual(hook.refused, []);
    });
  });
}
