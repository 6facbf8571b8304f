import assert from "node:assert/strict";
import { checkRoleMatrix, tokensForEveryRole } from "../../testing/role-matrix.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import { EnvSealer } from "../../store/env-sealer.js";
import { IntegrationStore, type IntegrationTables } from "../../store/integration-store.js";
import { openSqliteDatabase } from "../../store/sqlite-store.js";
import { createApiServer, type RouteInfo } from "../api-server.js";
import { TokenRegistry, type Role } from "../auth.js";
import { registerWebhookRoutes } from "./webhooks.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-webhook-routes-"));
let roleTokens: Record<Role, string>;
let db: Kysely<IntegrationTables>;
let integrations: IntegrationStore;
let app: FastifyInstance;
const routes: RouteInfo[] = [];

before(async () => {
  roleTokens = tokensForEveryRole(stateDir);
  db = (await openSqliteDatabase(join(stateDir, "waybill.db"))) as unknown as Kysely<IntegrationTables>;
  integrations = new IntegrationStore(db, EnvSealer.fromKey(EnvSealer.newKey()));
  const server = createApiServer(TokenRegistry.load(stateDir));
  app = server.app;
  registerWebhookRoutes(app, { integrations });
  await app.ready();
  routes.push(...server.routes);
});

after(async () => {
  await app.close();
  await db.destroy();
  rmSync(stateDir, { recursive: true, force: true });
});

const as = (role: Role) => ({ authorization: `Bearer ${roleTokens[role]}` });

describe("webhook subscriptions", () => {
  test("an admin subscribes a URL and sees its secret once; viewers list it without", async () => {
    const created = await app.inject({
      method: "POST",
      url: "/v1/webhooks",
      headers: as("admin"),
      payload: {
        url: "https://hooks.example/waybill?team=a",
        events: ["dev.waybill.run.finished", "task.*"],
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { subscription, secret } = created.json<{
      subscription: { id: string; events: string[] };
      secret: string;
    }>();
    assert.match(secret, /^whsec_/);
    assert.deepEqual(subscription.events, ["run.finished", "task.*"]);
    const listed = await app.inject({ method: "GET", url: "/v1/webhooks", headers: as("viewer") });
    assert.equal(listed.statusCode, 200);
    assert.ok(!listed.body.includes(secret.slice("whsec_".length)), "no secret in the listing");
    const view = listed.json<{ subscriptions: { id: string; url: string }[]; deadLetters: unknown[] }>();
    assert.deepEqual(
      view.subscriptions.map((s) => [s.id, s.url]),
      [[subscription.id, "https://hooks.example/waybill?team=a"]],
    );
    assert.deepEqual(view.deadLetters, []);

    const removed = await app.inject({
      method: "DELETE",
      url: `/v1/webhooks/${subscription.id}`,
      headers: as("admin"),
    });
    assert.equal(removed.statusCode, 200);
    const again = await app.inject({
      method: "DELETE",
      url: `/v1/webhooks/${subscription.id}`,
      headers: as("admin"),
    });
    assert.equal(again.statusCode, 404);
  });

  test("refuses a URL that is not http(s) or carries a password, and event patterns it does not know", async () => {
    const cases: [body: Record<string, unknown>, detail: RegExp][] = [
      [{ url: "file:///etc/passwd", events: ["*"] }, /http:\/\/ or https:\/\/, not file:/],
      [{ url: "not a url", events: ["*"] }, /is not a URL/],
      [{ url: "https://user:pw@hooks.example/", events: ["*"] }, /carries no user or password/],
      [{ url: "https://hooks.example/", events: ["run finished"] }, /is no event pattern/],
      [{ url: "https://hooks.example/", events: [] }, /events/],
      [{ url: "https://hooks.example/", events: ["*"], secret: "mine" }, /secret/],
    ];
    for (const [payload, detail] of cases) {
      const response = await app.inject({
        method: "POST",
        url: "/v1/webhooks",
        headers: as("admin"),
        payload,
      });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.match(response.json<{ detail: string }>().detail, detail);
      assert.ok(!response.body.includes("pw@"), "a refused URL's password is not echoed");
    }
    assert.deepEqual(await integrations.listSubscriptions(), []);
  });

  test("an admin puts a dead letter back in line; anything else is refused", async () => {
    const { subscription } = await integrations.addSubscription({
      url: "http://127.0.0.1:9/",
      events: ["*"],
      createdBy: "admin",
      now: new Date(0).toISOString(),
    });
    const now = new Date().toISOString();
    await integrations.claimFanOut("test", 0);
    await integrations.fanOut(
      "test",
      [{ seq: 1, id: "e1", type: "run.finished", time: now, payload: "{}" }],
      1,
      () => true,
    );
    const [id] = await integrations.dueDeliveries(1);
    await integrations.claimDelivery(id!, "test", 0);
    await integrations.markFailed(id!, "test", { error: "HTTP 500", status: 500, retryInMs: null });
    const listed = await app.inject({ method: "GET", url: "/v1/webhooks", headers: as("viewer") });
    const deadLetters = listed.json<{
      deadLetters: { id: string; subscriptionId: string; lastError: string }[];
    }>().deadLetters;
    assert.deepEqual(
      deadLetters.map((d) => [d.id, d.subscriptionId, d.lastError]),
      [[id, subscription.id, "HTTP 500"]],
    );
    const retried = await app.inject({
      method: "POST",
      url: `/v1/webhooks/dead-letters/${id}/retry`,
      headers: as("admin"),
    });
    assert.equal(retried.statusCode, 200, retried.body);
    assert.equal(retried.json<{ delivery: { state: string; attempts: number } }>().delivery.state, "pending");
    const twice = await app.inject({
      method: "POST",
      url: `/v1/webhooks/dead-letters/${id}/retry`,
      headers: as("admin"),
    });
    assert.equal(twice.statusCode, 409);
    const unknown = await app.inject({
      method: "POST",
      url: "/v1/webhooks/dead-letters/nope/retry",
      headers: as("admin"),
    });
    assert.equal(unknown.statusCode, 404);
    await integrations.removeSubscription(subscription.id);
  });
});

describe("webhooks: authorization over the role matrix", () => {
  test("listing is for viewers; subscribing, removing and retrying for admins", () => {
    assert.deepEqual(routes.map((route) => `${route.method} ${route.url} ${route.role}`).sort(), [
      "DELETE /v1/webhooks/:id admin",
      "GET /v1/webhooks viewer",
      "POST /v1/webhooks admin",
      "POST /v1/webhooks/dead-letters/:id/retry admin",
    ]);
  });

  test("no token and a wrong token get 401; a role below the route's 403; its own role gets through", async () => {
    await checkRoleMatrix(app, routes, roleTokens);
  });
});
