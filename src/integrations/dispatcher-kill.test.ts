/**
 * A dispatcher in a process of its own, killed with SIGKILL: mid-request, its attempt is sent
 * again by the next dispatcher (once, with the same webhook-id); after it recorded a delivery,
 * nothing is sent again.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, test } from "node:test";
import type { Kysely } from "kysely";
import { Webhook } from "standardwebhooks";
import { newEvent } from "../store/events.js";
import { IntegrationStore, type IntegrationTables } from "../store/integration-store.js";
import { KyselyStore } from "../store/kysely-store.js";
import type { Database as Tables } from "../store/schema.js";
import { openSqliteDatabase } from "../store/sqlite-store.js";
import { eventually } from "../testing/cli.js";
import { WebhookDispatcher } from "./dispatcher.js";
import { addSubscription } from "./subscriptions.js";

const compiled = dirname(dirname(fileURLToPath(import.meta.url)));
const REQUEST_TIMEOUT_MS = 60_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A dispatcher process on the database file, as a control plane replica runs one */
function dispatcherProcess(file: string): ChildProcess {
  const module = (path: string) => JSON.stringify(pathToFileURL(join(compiled, path)).href);
  const script = `
    const { openSqliteDatabase } = await import(${module("store/sqlite-store.js")});
    const { KyselyStore } = await import(${module("store/kysely-store.js")});
    const { IntegrationStore } = await import(${module("store/integration-store.js")});
    const { WebhookDispatcher } = await import(${module("integrations/dispatcher.js")});
    const db = await openSqliteDatabase(${JSON.stringify(file)});
    new WebhookDispatcher({
      store: new KyselyStore(db, "sqlite", undefined),
      integrations: new IntegrationStore(db),
      settings: { pollIntervalMs: 20, requestTimeoutMs: ${REQUEST_TIMEOUT_MS} },
    }).start();
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore" });
  cleanups.push(() => void child.kill("SIGKILL"));
  return child;
}

async function setUp(answer: (count: number) => "hang" | number) {
  const dir = mkdtempSync(join(tmpdir(), "waybill-webhook-kill-"));
  const file = join(dir, "waybill.db");
  const db = (await openSqliteDatabase(file)) as unknown as Kysely<Tables>;
  cleanups.push(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = new KyselyStore(db, "sqlite", undefined, async () => undefined);
  const integrations = new IntegrationStore(db as unknown as Kysely<IntegrationTables>);
  const requests: { webhookId: string; eventId: string }[] = [];
  let secret = "";
  let count = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
      const event = new Webhook(secret).verify(Buffer.concat(chunks).toString("utf8"), headers) as {
        id: string;
      };
      requests.push({ webhookId: headers["webhook-id"] ?? "", eventId: event.id });
      const outcome = answer(++count);
      if (outcome !== "hang") response.writeHead(outcome).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  ({ secret } = await addSubscription(integrations, { url, events: ["*"] }, "admin"));
  const [event] = await store.append([
    newEvent("task.started", "runs/r1", { task: "deploy", attempt: 1 }, "r1"),
  ]);
  return { db, file, store, integrations, requests, eventId: event!.id };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

test("a dispatcher killed mid-request loses nothing: the next one sends the attempt again, once, with the same webhook-id", async () => {
  const { db, file, store, integrations, requests, eventId } = await setUp((count) =>
    count === 1 ? "hang" : 200,
  );
  const child = dispatcherProcess(file);
  await eventually("the first attempt reached the receiver", () => requests.length === 1);
  await killed(child);
  const [claimed] = await integrations.deliveries();
  assert.equal(claimed?.state, "pending");
  // The database's clock (as the successor's store reads it) is moved past the dead one's lease,
  // instead of the test waiting it out.
  let now = Date.now();
  const successor = new WebhookDispatcher({
    store,
    integrations: new IntegrationStore(db as unknown as Kysely<IntegrationTables>, undefined, () => now),
    now: () => now,
  });
  await successor.runOnce();
  assert.equal(requests.length, 1, "not while the dead one's lease runs");
  now += 2 * REQUEST_TIMEOUT_MS + 5_001;
  await successor.runOnce();
  await successor.runOnce();
  assert.equal(requests.length, 2);
  assert.deepEqual(new Set(requests.map((r) => `${r.webhookId} ${r.eventId}`)).size, 1);
  assert.equal(requests[0]?.eventId, eventId);
  const [delivered] = await integrations.deliveries();
  assert.equal(delivered?.state, "delivered");
});

test("a dispatcher killed after it recorded a delivery: nothing is sent again", async () => {
  const { file, store, integrations, requests } = await setUp(() => 200);
  const child = dispatcherProcess(file);
  await eventually(
    "the delivery was recorded",
    async () => (await integrations.deliveries())[0]?.state === "delivered",
  );
  await killed(child);
  const successor = new WebhookDispatcher({ store, integrations, now: () => Date.now() + 10 * 60_000 });
  await successor.runOnce();
  await successor.runOnce();
  assert.equal(requests.length, 1);
});
