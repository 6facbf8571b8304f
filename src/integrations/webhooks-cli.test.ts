/**
 * Events in, webhooks out, through HTTP and the compiled CLI: the event and webhook routes are
 * served on a real port with a running dispatcher, `waybill webhooks` subscribes real local
 * receivers that verify every signature, and an approval sent as a CloudEvent comes back out
 * as signed run events.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import { Webhook } from "standardwebhooks";
import { Engine } from "../engine/engine.js";
import { createApiServer } from "../server/api-server.js";
import { TokenRegistry, adminToken } from "../server/auth.js";
import { registerEventRoutes } from "../server/routes/events.js";
import { registerWebhookRoutes } from "../server/routes/webhooks.js";
import { newEvent } from "../store/events.js";
import { IntegrationStore, type IntegrationTables } from "../store/integration-store.js";
import { KyselyStore } from "../store/kysely-store.js";
import type { Database as Tables } from "../store/schema.js";
import { openSqliteDatabase } from "../store/sqlite-store.js";
import { eventually, runCli } from "../testing/cli.js";
import { WebhookDispatcher } from "./dispatcher.js";
import { EventIntake } from "./intake.js";
import { recordingControlPlane } from "../testing/recording-control-plane.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-webhooks-cli-"));
const approverToken = "approver-token-0123456789";
let db: Kysely<Tables>;
let store: KyselyStore;
let engine: Engine;
let app: FastifyInstance;
let dispatcher: WebhookDispatcher;
let url: string;
let admin: string;
const servers: Server[] = [];

before(async () => {
  admin = adminToken(stateDir);
  writeFileSync(
    join(stateDir, "tokens.json"),
    JSON.stringify([{ name: "lead", role: "approver", token: approverToken }]),
    {
      mode: 0o600,
    },
  );
  db = (await openSqliteDatabase(join(stateDir, "waybill.db"))) as unknown as Kysely<Tables>;
  store = new KyselyStore(db, "sqlite", undefined, async () => undefined);
  const integrations = new IntegrationStore(db as unknown as Kysely<IntegrationTables>);
  const recorder = recordingControlPlane(store, stateDir);
  engine = recorder.engine;
  const { deliveries } = recorder;
  await engine.stop();
  const intake = new EventIntake({ integrations, store, deliveries, engine });
  app = createApiServer(TokenRegistry.load(stateDir)).app;
  registerEventRoutes(app, { intake, integrations });
  registerWebhookRoutes(app, { integrations });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  dispatcher = new WebhookDispatcher({
    store,
    integrations,
    intake,
    settings: { pollIntervalMs: 20, backoffBaseMs: 20, backoffMaxMs: 100, maxAttempts: 3 },
  });
  dispatcher.start();
});

after(async () => {
  await dispatcher.stop();
  await app.close();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await engine.stop();
  await db.destroy();
  rmSync(stateDir, { recursive: true, force: true });
});

/** A receiver on 127.0.0.1 that verifies each signature with the secret it is given later */
async function receiver(status: number) {
  const verified: { id: string; type: string; webhookId: string }[] = [];
  const refused: string[] = [];
  let secret = "";
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
      try {
        const event = new Webhook(secret).verify(Buffer.concat(chunks).toString("utf8"), headers) as {
          id: string;
          type: string;
        };
        verified.push({ id: event.id, type: event.type, webhookId: headers["webhook-id"] ?? "" });
        response.writeHead(status).end();
      } catch (error) {
        refused.push((error as Error).message);
        response.writeHead(401).end();
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    verified,
    refused,
    useSecret: (value: string) => void (secret = value),
  };
}

const cli = (args: string[], token = admin) =>
  runCli(args, { stateDir, env: { WAYBILL_URL: url, WAYBILL_TOKEN: token }, timeoutMs: 30_000 });

describe("waybill webhooks, with events in and webhooks out", () => {
  test("an approval sent as a CloudEvent comes out as signed run events; a failing receiver ends in the dead letters", async () => {
    const good = await receiver(204);
    const added = await cli(["webhooks", "add", good.url, "--events", "run.*,task.*", "--json"]);
    assert.equal(added.code, 0, added.stderr);
    const { subscription, secret } = JSON.parse(added.stdout) as {
      subscription: { id: string };
      secret: string;
    };
    good.useSecret(secret);

    const failing = await receiver(500);
    const addedFailing = await cli(["webhooks", "add", failing.url, "--events", "run.approved"]);
    assert.equal(addedFailing.code, 0, addedFailing.stderr);
    assert.match(addedFailing.stdout, /shown only this once/);
    failing.useSecret(/whsec_\S+/.exec(addedFailing.stdout)?.[0] ?? "");

    const runId = "run-cli-1";
    await store.append([
      newEvent(
        "run.queued",
        `runs/${runId}`,
        {
          runId,
          shipId: "s",
          kind: "ship",
          service: "api",
          stage: "prod",
          stageIndex: 0,
          digest: `sha256:${"a".repeat(64)}`,
          version: "1",
        },
        runId,
      ),
      newEvent(
        "run.waiting-approval",
        `runs/${runId}`,
        { result: "warning", deadline: "2099-01-01T00:00:00Z" },
        runId,
      ),
    ]);
    const approval = await fetch(`${url}/v1/events`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${approverToken}`,
        "ce-specversion": "1.0",
        "ce-id": "chatops-42",
        "ce-source": "/chatops",
        "ce-type": "dev.waybill.approval.granted",
        "content-type": "application/json",
      },
      body: JSON.stringify({ run: runId }),
    });
    assert.equal(approval.status, 202, await approval.clone().text());

    await eventually("the approval reached the good receiver", () =>
      good.verified.some((event) => event.type === "dev.waybill.run.approved"),
    );
    // Deliveries go out side by side: their order is not promised, their set is.
    assert.deepEqual(good.verified.map((event) => event.type).sort(), [
      "dev.waybill.run.approved",
      "dev.waybill.run.queued",
      "dev.waybill.run.waiting-approval",
    ]);
    assert.deepEqual(good.refused, []);

    await eventually("the failing delivery is a dead letter", async () => {
      const listed = await cli(["webhooks", "--json"]);
      return (JSON.parse(listed.stdout) as { deadLetters: unknown[] }).deadLetters.length === 1;
    });
    assert.equal(failing.verified.length, 3, "three attempts, all signed");
    assert.equal(
      new Set(failing.verified.map((event) => event.webhookId)).size,
      1,
      "one webhook-id for every attempt",
    );
    const listed = await cli(["webhooks"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(subscription.id));
    assert.match(listed.stdout, /dead letters/);
    assert.match(listed.stdout, /the receiver answered HTTP 500/);
    assert.ok(!listed.stdout.includes(secret), "no secret in the listing");

    const viewer = await cli(["webhooks", "add", good.url, "--events", "*"], approverToken);
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /needs the admin role/);

    const removed = await cli(["webhooks", "remove", subscription.id]);
    assert.equal(removed.code, 0, removed.stderr);
    const unknown = await cli(["webhooks", "remove", subscription.id]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no webhook subscription/);
    const noEvents = await cli(["webhooks", "add", good.url]);
    assert.equal(noEvents.code, 2);
    assert.match(noEvents.stderr, /needs --events/);
  });
});
