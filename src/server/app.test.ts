import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { ContentStore } from "../artifact/content-store.js";
import { Deliveries } from "../engine/deliveries.js";
import { Engine } from "../engine/engine.js";
import { Recall } from "../engine/recall.js";
import { EvidenceService } from "../evidence/evidence-service.js";
import { TaskRegistry } from "../engine/task.js";
import { openSqliteStore, type SqliteStore } from "../store/sqlite-store.js";
import { buildApp, type RouteInfo } from "./app.js";
import { TokenRegistry, adminToken, roles, type Role } from "./auth.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-api-"));
let store: SqliteStore;
let engine: Engine;
let app: FastifyInstance;
let routes: RouteInfo[];
let admin: string;
const roleTokens: Record<Role, string> = {
  viewer: "viewer-token-0123456789",
  developer: "developer-token-0123456789",
  approver: "approver-token-0123456789",
  admin: "",
};
const shutdowns: boolean[] = [];

before(async () => {
  admin = adminToken(stateDir);
  roleTokens.admin = admin;
  writeFileSync(
    join(stateDir, "tokens.json"),
    JSON.stringify(
      (["viewer", "developer", "approver"] as const).map((role) => ({
        name: role,
        role,
        token: roleTokens[role],
      })),
    ),
  );
  store = await openSqliteStore(join(stateDir, "waybill.db"));
  const evidence = EvidenceService.open(stateDir);
  engine = new Engine({
    store,
    evidence,
    tasks: new TaskRegistry(),
    targets: {
      resolve() {
        throw new Error("no targets in the API test");
      },
    },
    log: () => undefined,
  });
  const deliveries = new Deliveries(
    store,
    engine,
    new ContentStore(join(stateDir, "artifacts")),
    evidence,
    join(stateDir, "advisories"),
  );
  ({ app, routes } = await buildApp({
    store,
    evidence,
    recall: new Recall(store, deliveries, join(stateDir, "advisories")),
    engine,
    deliveries,
    tokens: TokenRegistry.load(stateDir),
    stageUrl: () => undefined,
    readLogs: async () => "",
    shutdown: (stopApps) => shutdowns.push(stopApps),
  }));
  await app.ready();
});

after(async () => {
  await app.close();
  await engine.stop();
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
});

function concrete(url: string): string {
  return url.replace(/:([a-z]+)/g, "x");
}

describe("API authorization", () => {
  test("every route is registered with a role", () => {
    assert.ok(routes.length >= 9, `expected the whole API, got ${routes.length} routes`);
  });

  test("every route refuses a request without a token with 401", async () => {
    for (const route of routes) {
      const response = await app.inject({ method: route.method as "GET", url: concrete(route.url) });
      assert.equal(response.statusCode, 401, `${route.method} ${route.url}`);
      assert.match(response.headers["www-authenticate"] as string, /Bearer/);
    }
  });

  test("every route refuses a wrong token with 401", async () => {
    for (const route of routes) {
      const response = await app.inject({
        method: route.method as "GET",
        url: concrete(route.url),
        headers: { authorization: `Bearer ${"0".repeat(admin.length)}` },
      });
      assert.equal(response.statusCode, 401, `${route.method} ${route.url}`);
    }
  });

  test("every route refuses a role below its own with 403, and lets its own role through", async () => {
    for (const route of routes) {
      for (const role of roles) {
        const response = await app.inject({
          method: route.method as "GET",
          url: concrete(route.url),
          headers: { authorization: `Bearer ${roleTokens[role]}` },
        });
        const allowed = roles.indexOf(role) >= roles.indexOf(route.role);
        if (allowed) assert.notEqual(response.statusCode, 403, `${role} on ${route.method} ${route.url}`);
        else assert.equal(response.statusCode, 403, `${role} on ${route.method} ${route.url}`);
        assert.notEqual(response.statusCode, 401, `${role} on ${route.method} ${route.url}`);
      }
    }
  });

  test("reading is for viewers, shipping for developers, approving for approvers, shutdown for admins", () => {
    const roleOf = (method: string, url: string) =>
      routes.find((r) => r.method === method && r.url === url)?.role;
    assert.equal(roleOf("GET", "/v1/status"), "viewer");
    assert.equal(roleOf("POST", "/v1/ships"), "developer");
    assert.equal(roleOf("POST", "/v1/runs/:id/approve"), "approver");
    assert.equal(roleOf("POST", "/v1/shutdown"), "admin");
  });
});

describe("API input", () => {
  const auth = () => ({ authorization: `Bearer ${admin}` });

  test("a malformed ship request gets 400 with the field named", async () => {
    const response = await app.inject({
      method: "POST",
      url: "/v1/ships",
      headers: auth(),
      payload: { spec: {} },
    });
    assert.equal(response.statusCode, 400);
    assert.match(response.json<{ error: string }>().error, /serviceDir|digest/);
  });

  test("a ship names its artifact as a folder or an image, never both or neither", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const ship = (artifact: Record<string, string>, spec: unknown = { metadata: { name: "shop" } }) =>
      app.inject({
        method: "POST",
        url: "/v1/ships",
        headers: auth(),
        payload: { spec, serviceDir: stateDir, digest, version: "1", ...artifact },
      });
    const neitherNorBoth: Record<string, string>[] = [{}, { artifactDir: stateDir, image: `shop@${digest}` }];
    for (const artifact of neitherNorBoth) {
      const response = await ship(artifact);
      assert.equal(response.statusCode, 400);
      assert.match(response.json<{ error: string }>().error, /artifactDir .* or image .*exactly one/);
    }
    const local = { metadata: { name: "shop" }, run: { command: "node server.js" } };
    const imageToLocal = await ship({ image: `registry.example/shop@${digest}` }, local);
    assert.equal(imageToLocal.statusCode, 400);
    assert.match(imageToLocal.json<{ error: string }>().error, /runs a folder: ship artifactDir/);
    const kube = {
      metadata: { name: "shop" },
      run: { image: `registry.example/shop@${digest}` },
      stages: [{ name: "prod", target: "kube:prod" }],
    };
    const otherDigest = await ship({ image: `registry.example/shop@sha256:${"b".repeat(64)}` }, kube);
    assert.equal(otherDigest.statusCode, 400);
    assert.match(otherDigest.json<{ error: string }>().error, /is not pinned to the digest/);
    const folderToKube = await ship({ artifactDir: stateDir }, kube);
    assert.equal(folderToKube.statusCode, 400);
    assert.match(folderToKube.json<{ error: string }>().error, /runs an image: ship image/);
    assert.deepEqual(await store.listRuns(), [], "nothing was recorded");
  });

  test("an unknown run gets 404 and approving a run that is not waiting gets 4xx", async () => {
    const response = await app.inject({ method: "POST", url: "/v1/runs/r-nope/approve", headers: auth() });
    assert.equal(response.statusCode, 404);
  });

  test("a rollback of an unknown service gets 404", async () => {
    const response = await app.inject({
      method: "POST",
      url: "/v1/services/nope/stages/dev/rollback",
      headers: auth(),
    });
    assert.equal(response.statusCode, 404);
  });

  test("a bad query parameter gets 400", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/runs?limit=zero", headers: auth() });
    assert.equal(response.statusCode, 400);
  });
});
