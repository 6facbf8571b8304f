import assert from "node:assert/strict";
import { checkRoleMatrix, concretePath, tokensForEveryRole } from "../testing/role-matrix.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { artifactDigest } from "../artifact/digest.js";
import { Engine } from "../engine/engine.js";
import { StagePolicies } from "../engine/policies.js";
import { Recall } from "../engine/recall.js";
import { openSqliteStore, type SqliteStore } from "../store/sqlite-store.js";
import { buildApp, type AppDependencies, type RouteInfo } from "./app.js";
import { apiRoutes } from "../api/routes.js";
import { isDeepStrictEqual } from "node:util";
import { createHash } from "node:crypto";
import { EventIntake } from "../integrations/intake.js";
import { blockerOf } from "../engine/run-views.js";
import type { RunRecord } from "../store/store.js";
import { TokenRegistry, type Role } from "./auth.js";
import { recordingControlPlane } from "../testing/recording-control-plane.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-api-"));
let store: SqliteStore;
let engine: Engine;
let app: FastifyInstance;
let routes: RouteInfo[];
let dependencies: AppDependencies;
let admin: string;
let roleTokens: Record<Role, string>;
const shutdowns: boolean[] = [];

before(async () => {
  roleTokens = tokensForEveryRole(stateDir);
  admin = roleTokens.admin;
  store = await openSqliteStore(join(stateDir, "waybill.db"));
  const recorder = recordingControlPlane(store, stateDir);
  engine = recorder.engine;
  const { evidence, deliveries } = recorder;
  dependencies = {
    store,
    evidence,
    recall: new Recall(store, deliveries, join(stateDir, "advisories")),
    engine,
    deliveries,
    policies: new StagePolicies(store),
    advisoriesDir: join(stateDir, "advisories"),
    tokens: TokenRegistry.load(stateDir, store.tokenStore()),
    tokenStore: store.tokenStore(),
    intake: new EventIntake({ integrations: store.integrationStore(), store, deliveries, engine }),
    integrations: store.integrationStore(),
    stageUrl: () => undefined,
    readLogs: async () => "",
    shutdown: (stopApps) => void shutdowns.push(stopApps),
  };
  ({ app, routes } = await buildApp(dependencies));
  app.addHook("onSend", async (request, reply, payload) => {
    checkAnswerAgainstContract(request.method, request.routeOptions.url, reply.statusCode, payload);
    return payload;
  });
  await app.ready();
  // These tests queue runs through the API; none is executed, there being no target here.
  await engine.stop();
});

after(async () => {
  await app.close();
  await engine.stop();
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Every JSON answer of a route, in every test here, must be what its contract says */
const answersChecked = new Set<string>();
const contractBreaches: string[] = [];
function checkAnswerAgainstContract(
  method: string,
  url: string | undefined,
  status: number,
  payload: unknown,
) {
  const contract = apiRoutes.find((route) => route.method === method && route.path === url);
  if (contract === undefined || status >= 300 || !("schema" in contract.response)) return;
  if (typeof payload !== "string") return;
  const answer: unknown = JSON.parse(payload);
  const parsed = contract.response.schema.safeParse(answer);
  answersChecked.add(`${method} ${url}`);
  if (status !== contract.response.status) contractBreaches.push(`${method} ${url}: status ${status}`);
  if (!parsed.success) contractBreaches.push(`${method} ${url}: ${parsed.error.message}`);
  // A field the contract does not name would be dropped by the CLI's reading of the answer.
  else if (!isDeepStrictEqual(JSON.parse(JSON.stringify(parsed.data)), answer)) {
    contractBreaches.push(`${method} ${url}: the answer has fields its contract does not describe`);
  }
}

const concrete = concretePath;

describe("API authorization", () => {
  test("every route is registered with a role", () => {
    assert.ok(routes.length >= 9, `expected the whole API, got ${routes.length} routes`);
  });

  test("only the API's own description, the dashboard's files and its login answer without a token", async () => {
    const open = routes.filter((route) => route.public).map((route) => `${route.method} ${route.url}`);
    assert.deepEqual(open.sort(), ["GET /", "GET /openapi.json", "GET /ui/:file", "POST /v1/session"]);
    for (const url of ["/", "/openapi.json"]) {
      assert.equal((await app.inject({ method: "GET", url })).statusCode, 200, url);
    }
  });

  test("every route refuses no token and a wrong one with 401, a role below its own with 403, and lets its own through", async () => {
    await checkRoleMatrix(app, routes, roleTokens);
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
    assert.match(response.json<{ detail: string }>().detail, /serviceDir|digest/);
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
      assert.match(response.json<{ detail: string }>().detail, /artifactDir .* or image .*exactly one/);
    }
    const local = { metadata: { name: "shop" }, run: { command: "node server.js" } };
    const imageToLocal = await ship({ image: `registry.example/shop@${digest}` }, local);
    assert.equal(imageToLocal.statusCode, 400);
    assert.match(imageToLocal.json<{ detail: string }>().detail, /runs a folder: ship artifactDir/);
    const kube = {
      metadata: { name: "shop" },
      run: { image: `registry.example/shop@${digest}` },
      stages: [{ name: "prod", target: "kube:prod" }],
    };
    const otherDigest = await ship({ image: `registry.example/shop@sha256:${"b".repeat(64)}` }, kube);
    assert.equal(otherDigest.statusCode, 400);
    assert.match(otherDigest.json<{ detail: string }>().detail, /is not pinned to the digest/);
    const folderToKube = await ship({ artifactDir: stateDir }, kube);
    assert.equal(folderToKube.statusCode, 400);
    assert.match(folderToKube.json<{ detail: string }>().detail, /runs an image: ship image/);
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

  test("every malformed request gets a 4xx that says what is wrong, never a 500", async () => {
    const digest = `sha256:${"c".repeat(64)}`;
    const aFile = join(stateDir, "token");
    const shipWith = (fields: Record<string, unknown>) => ({
      spec: { metadata: { name: "shop" }, run: { command: "node server.js" } },
      serviceDir: stateDir,
      artifactDir: stateDir,
      digest,
      version: "1",
      ...fields,
    });
    const cases: {
      method: "GET" | "POST";
      url: string;
      payload?: Record<string, unknown>;
      status: number;
      error: RegExp;
    }[] = [
      {
        method: "POST",
        url: "/v1/ships",
        payload: shipWith({ artifactDir: join(stateDir, "nope") }),
        status: 400,
        error: /artifactDir .*nope does not exist/,
      },
      {
        method: "POST",
        url: "/v1/ships",
        payload: shipWith({ artifactDir: aFile }),
        status: 400,
        error: /artifactDir .*token is not a folder/,
      },
      {
        method: "POST",
        url: "/v1/ships",
        payload: shipWith({ serviceDir: join(stateDir, "nope") }),
        status: 400,
        error: /serviceDir .*nope does not exist/,
      },
      {
        method: "POST",
        url: "/v1/ships",
        payload: shipWith({ version: "1.0\n2.0 released" }),
        status: 400,
        error: /version label/,
      },
      {
        method: "POST",
        url: "/v1/ships",
        payload: shipWith({ version: "\u001b[31mred" }),
        status: 400,
        error: /version label/,
      },
      { method: "GET", url: "/v1/evidence/sha256:", status: 400, error: /sha256: followed by 7 to 64/ },
      { method: "GET", url: "/v1/evidence/abc", status: 400, error: /7 to 64 lowercase hex digits/ },
      { method: "GET", url: `/v1/evidence/sha256:${"Z".repeat(64)}`, status: 400, error: /hex digits/ },
      {
        method: "GET",
        url: `/v1/evidence/sha256:${"d".repeat(12)}`,
        status: 404,
        error: /no artifact matches/,
      },
      {
        method: "GET",
        url: "/v1/recall?q=pkg:npm/lodash@garbage!!",
        status: 400,
        error: /is not a npm version/,
      },
      { method: "GET", url: "/v1/recall?q=", status: 400, error: /q/ },
      {
        method: "POST",
        url: "/v1/recall/redeploy",
        payload: { q: "pkg:npm/lodash@<1", version: "a b" },
        status: 400,
        error: /version label/,
      },
      {
        method: "POST",
        url: "/v1/runs/r-1/reject",
        payload: { reason: "no\nfake: line" },
        status: 400,
        error: /one line of text/,
      },
      { method: "GET", url: "/v1/no-such-route", status: 404, error: /there is no GET \/v1\/no-such-route/ },
    ];
    for (const { method, url, payload, status, error } of cases) {
      const response = await app.inject({
        method,
        url,
        headers: auth(),
        ...(payload === undefined ? {} : { payload }),
      });
      assert.equal(response.statusCode, status, `${method} ${url}: ${response.body}`);
      assert.match(response.json<{ detail: string }>().detail, error, `${method} ${url}`);
    }
    assert.deepEqual(await store.listRuns(), [], "nothing was recorded");
  });

  test("every refusal is one RFC 9457 problem: type, title, status and detail", async () => {
    const refusals = [
      { request: { method: "GET" as const, url: "/v1/status" }, status: 401, kind: "unauthorized" },
      {
        request: { method: "GET" as const, url: "/v1/no-such-route", headers: auth() },
        status: 404,
        kind: "not-found",
      },
      {
        request: { method: "GET" as const, url: "/v1/runs?limit=0", headers: auth() },
        status: 400,
        kind: "bad-request",
      },
      {
        request: { method: "POST" as const, url: "/v1/services/nope/stages/dev/rollback", headers: auth() },
        status: 404,
        kind: "not-found",
      },
    ];
    for (const { request, status, kind } of refusals) {
      const response = await app.inject(request);
      assert.equal(response.statusCode, status, `${request.method} ${request.url}`);
      assert.match(String(response.headers["content-type"]), /^application\/problem\+json/);
      const body = response.json<Record<string, unknown>>();
      assert.equal(body.type, `https://waybill.dev/problems/${kind}`);
      assert.equal(body.status, status);
      assert.equal(typeof body.title, "string");
      assert.ok(typeof body.detail === "string" && body.detail.length > 0);
      assert.equal(body.error, undefined, "no second error shape");
    }
  });

  test("a body over the limit gets a readable 413, not a reset connection", async () => {
    const server = await buildApp({ ...dependencies });
    await server.app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const address = server.app.server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      const response = await fetch(`http://127.0.0.1:${port}/v1/ships`, {
        method: "POST",
        headers: { ...auth(), "content-type": "application/json" },
        body: "a".repeat(10_000_000),
      });
      assert.equal(response.status, 413);
      assert.match(
        ((await response.json()) as { detail: string }).detail,
        /larger than the API takes \(1 MiB\)/,
      );
    } finally {
      await server.app.close();
    }
  });

  test("a bad query parameter gets 400", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/runs?limit=zero", headers: auth() });
    assert.equal(response.statusCode, 400);
  });
});

describe("stage policies", () => {
  const as = (role: Role) => ({ authorization: `Bearer ${roleTokens[role]}` });
  const serviceDir = join(stateDir, "svc");
  let digest = "";
  before(async () => {
    mkdirSync(join(serviceDir, "app"), { recursive: true });
    writeFileSync(join(serviceDir, "app", "server.js"), "// app");
    digest = await artifactDigest(join(serviceDir, "app"));
  });
  const spec = (name: string, production: Record<string, unknown>) => ({
    metadata: { name },
    run: { command: "node server.js" },
    stages: [{ name: "dev" }, { name: "production", ...production }],
  });
  const ship = (role: Role, body: unknown, version = "1") =>
    app.inject({
      method: "POST",
      url: "/v1/ships",
      headers: as(role),
      payload: { spec: body, serviceDir, artifactDir: join(serviceDir, "app"), digest, version },
    });
  const setPolicy = (role: Role, service: string, stage: string, payload: Record<string, unknown>) =>
    app.inject({ method: "PUT", url: `/v1/policies/${service}/${stage}`, headers: as(role), payload });
  const policyChanges = async () =>
    (await store.events()).filter((event) => event.type === "dev.waybill.policy.changed");

  test("a developer cannot ship a production stage with no approver and no evidence", async () => {
    const unset = await ship("developer", spec("cart", {}));
    assert.equal(unset.statusCode, 403, "a developer cannot be the one whose ship sets a policy");
    assert.match(unset.json<{ detail: string }>().detail, /cart has no stage policy for dev, production/);
    assert.equal(
      (await ship("admin", spec("cart", {}))).statusCode,
      201,
      "an admin's first ship sets the policy",
    );
    const set = await setPolicy("admin", "cart", "production", {
      approval: { pass: "manual" },
      requires: ["sbom", "vulns"],
    });
    assert.equal(set.statusCode, 200);
    const runsBefore = (await store.listRuns()).length;
    const eventsBefore = (await store.events()).length;

    const refused = await ship("developer", spec("cart", {}), "2");
    assert.equal(refused.statusCode, 403);
    const body = refused.json<{ detail: string; weakened: { field: string }[] }>();
    assert.match(body.detail, /stages\.production\.approval\.pass: the stage policy requires manual/);
    assert.match(body.detail, /stages\.production\.requires: the stage policy requires sbom/);
    assert.match(body.detail, /waybill policy show cart/);
    assert.deepEqual(
      body.weakened.map((w) => w.field),
      ["stages.production.approval.pass", "stages.production.requires", "stages.production.requires"],
    );
    assert.equal((await store.listRuns()).length, runsBefore, "no run was queued");
    assert.equal((await store.events()).length, eventsBefore, "nothing was recorded");
    assert.equal(await store.artifactByVersion("cart", "2"), undefined);
  });

  test("a developer may ship a stricter stage, and the policy stays the admin's", async () => {
    const stricter = spec("cart", {
      approval: { pass: "manual", warning: "manual" },
      requires: ["provenance", "sbom", { vulns: { max_severity: "low" } }],
    });
    const before = (await policyChanges()).length;
    assert.equal((await ship("developer", stricter, "3")).statusCode, 201);
    assert.equal((await policyChanges()).length, before);
  });

  test("an admin's ship may weaken the policy, and the change is recorded with who, the old and the new", async () => {
    assert.equal((await ship("admin", spec("cart", {}), "4")).statusCode, 201);
    const [latest] = (await policyChanges()).slice(-1);
    assert.equal(latest?.subject, "services/cart/stages/production/policy");
    assert.deepEqual(
      { ...(latest?.data as Record<string, unknown>) },
      {
        service: "cart",
        stage: "production",
        by: "admin",
        reason: "admin ship",
        previous: {
          approval: { pass: "manual", warning: "manual" },
          requires: ["sbom", "vulns"],
          gate: true,
          targets: ["local"],
        },
        policy: {
          approval: { pass: "automatic", warning: "manual" },
          requires: [],
          gate: true,
          targets: ["local"],
        },
      },
    );
  });

  test("every policy change is an event, and the history shows who made it", async () => {
    assert.equal((await setPolicy("admin", "cart", "production", { gate: true })).statusCode, 200);
    const unchanged = await setPolicy("admin", "cart", "production", { gate: true });
    assert.equal(
      unchanged.json<{ changed: boolean }>().changed,
      false,
      "setting the same value is no change",
    );
    const response = await setPolicy("admin", "cart", "production", { approval: { warning: "automatic" } });
    assert.equal(response.json<{ changed: boolean }>().changed, true);
    const history = await app.inject({
      method: "GET",
      url: "/v1/policies/cart/production",
      headers: as("viewer"),
    });
    const { current, history: changes } = history.json<{
      current: { policy: { approval: { warning: string } }; changedBy: string };
      history: { by: string; reason: string; changedAt: string; previous: unknown }[];
    }>();
    assert.equal(current.policy.approval.warning, "automatic");
    assert.equal(current.changedBy, "admin");
    assert.deepEqual(
      changes.map((change) => change.reason),
      ["set", "admin ship", "set", "first ship"],
    );
    assert.equal(changes.at(-1)?.by, "admin");
    assert.ok(changes.every((change) => !Number.isNaN(Date.parse(change.changedAt))));
  });

  test("a default for every service holds a new service's first ship", async () => {
    const set = await setPolicy("admin", "*", "production", { approval: { pass: "manual" } });
    assert.equal(set.statusCode, 200);
    assert.equal((await setPolicy("admin", "*", "dev", { gate: false })).statusCode, 200);
    const refused = await ship("developer", spec("payments", {}));
    assert.equal(refused.statusCode, 403);
    assert.match(refused.json<{ detail: string }>().detail, /stages\.production\.approval\.pass/);
    const allowed = await ship("developer", spec("payments", { approval: { pass: "manual" } }));
    assert.equal(allowed.statusCode, 201);
    const listed = await app.inject({
      method: "GET",
      url: "/v1/policies?service=payments",
      headers: as("viewer"),
    });
    const production = listed
      .json<{ policies: { service: string; stage: string; inherited: boolean }[] }>()
      .policies.find((policy) => policy.stage === "production");
    assert.equal(production?.inherited, true);
    assert.equal(production?.service, "payments");
  });

  test("a developer cannot drop a stage that has a policy", async () => {
    const withoutProduction = {
      metadata: { name: "cart" },
      run: { command: "node server.js" },
      stages: [{ name: "dev" }],
    };
    const refused = await ship("developer", withoutProduction, "5");
    assert.equal(refused.statusCode, 403);
    assert.match(
      refused.json<{ detail: string }>().detail,
      /stages\.production: the stage policy requires the stage/,
    );
  });

  test("a policy change names a known service, a valid stage and known fields", async () => {
    const cases: [string, string, Record<string, unknown>, number][] = [
      ["nope", "production", { gate: true }, 404],
      ["cart", "Prod!", { gate: true }, 400],
      ["cart", "production", { gate: "yes" }, 400],
      ["cart", "production", { approvals: { pass: "manual" } }, 400],
      ["cart", "production", { requires: ["sboms"] }, 400],
      ["cart", "production", { targets: ["kube:"] }, 400],
    ];
    for (const [service, stage, payload, status] of cases) {
      const response = await setPolicy("admin", service, stage, payload);
      assert.equal(response.statusCode, status, `${service}/${stage} ${JSON.stringify(payload)}`);
      assert.ok(response.json<{ detail: string }>().detail.length > 0);
    }
  });
});

describe("a queued run names what it waits for", () => {
  const run = (id: string, stage: string, state: RunRecord["state"]): RunRecord => ({
    id,
    shipId: "s",
    kind: "ship",
    service: "shop",
    stage,
    stageIndex: 0,
    digest: "sha256:x",
    version: id,
    state,
    result: null,
    task: null,
    reason: null,
    createdAt: "",
    startedAt: null,
    finishedAt: null,
  });
  const open = [
    run("r-1", "prod", "waiting-approval"),
    run("r-2", "dev", "running"),
    run("r-3", "prod", "queued"),
    run("r-4", "prod", "queued"),
  ];
  test("the run its stage is busy with, else none", () => {
    assert.deepEqual(blockerOf(open[2] ?? run("", "", "queued"), open), {
      waitingFor: { id: "r-1", state: "waiting-approval", version: "r-1" },
    });
    assert.deepEqual(blockerOf(open[0] ?? run("", "", "queued"), open), {}, "only a queued run waits");
  });
});

describe("API tokens", () => {
  const asAdmin = () => ({ authorization: `Bearer ${admin}` });
  const call = (token: string, url = "/v1/whoami") =>
    app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } });

  test("a token an admin makes is shown once, acts with its role, and is refused once revoked", async () => {
    const made = await app.inject({
      method: "POST",
      url: "/v1/tokens",
      headers: asAdmin(),
      payload: { name: "alice", role: "approver" },
    });
    assert.equal(made.statusCode, 201, made.body);
    const { token, id } = made.json<{ token: string; id: string }>();
    assert.match(token, /^wb_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual((await call(token)).json(), { name: "alice", role: "approver" });
    assert.equal((await call(token, "/v1/tokens")).statusCode, 403, "an approver may not list tokens");

    const listed = await app.inject({ method: "GET", url: "/v1/tokens", headers: asAdmin() });
    assert.doesNotMatch(listed.body, new RegExp(token.slice(-43)), "a listing never shows a secret");
    assert.equal(listed.json<{ tokens: { id: string }[] }>().tokens.filter((t) => t.id === id).length, 1);

    const again = await app.inject({
      method: "POST",
      url: "/v1/tokens",
      headers: asAdmin(),
      payload: { name: "alice", role: "viewer" },
    });
    assert.equal(again.statusCode, 409, "a live name is not given twice");

    const revoked = await app.inject({ method: "DELETE", url: "/v1/tokens/alice", headers: asAdmin() });
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.equal((await call(token)).statusCode, 401, "a revoked token is refused");
    const secondRevoke = await app.inject({ method: "DELETE", url: `/v1/tokens/${id}`, headers: asAdmin() });
    assert.equal(secondRevoke.statusCode, 404);
  });

  test("the database keeps only a hash of a token's secret, and a forged secret for a real id is refused", async () => {
    const made = await app.inject({
      method: "POST",
      url: "/v1/tokens",
      headers: asAdmin(),
      payload: { name: "ci-bot", role: "developer" },
    });
    const { token, id } = made.json<{ token: string; id: string }>();
    const secret = token.slice(-43);
    const stored = await store.tokenStore().byId(id);
    assert.ok(stored !== undefined);
    assert.notEqual(stored.secretSha256, secret);
    assert.equal(stored.secretSha256, createHash("sha256").update(secret).digest("hex"));
    const forged = `wb_${id}_${"A".repeat(43)}`;
    assert.equal((await call(forged)).statusCode, 401);
  });
});

describe("the API contract", () => {
  type Operation = {
    "x-waybill-role": string;
    requestBody?: {
      content: Record<string, { schema: { required?: string[]; additionalProperties?: unknown } }>;
    };
  };
  const describedOperations = async (): Promise<Map<string, Operation>> => {
    const response = await app.inject({ method: "GET", url: "/openapi.json" });
    const document = response.json<{ openapi: string; paths: Record<string, Record<string, Operation>> }>();
    assert.equal(document.openapi, "3.1.0");
    const operations = new Map<string, Operation>();
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        operations.set(`${method.toUpperCase()} ${path.replace(/\{([A-Za-z]+)\}/g, ":$1")}`, operation);
      }
    }
    return operations;
  };

  test("/openapi.json describes every route the server has, with its role, and no other", async () => {
    const described = await describedOperations();
    const registered = routes.map((route) => `${route.method} ${route.url}`);
    assert.deepEqual([...described.keys()].sort(), [...registered].sort());
    for (const route of routes) {
      const role = described.get(`${route.method} ${route.url}`)?.["x-waybill-role"];
      assert.equal(role, route.public ? "none" : route.role, `${route.method} ${route.url}`);
    }
  });

  test("a body field /openapi.json does not describe is refused, and so is a body without a required one", async () => {
    let checked = 0;
    for (const [key, operation] of await describedOperations()) {
      const schema = operation.requestBody?.content["application/json"]?.schema;
      if (schema === undefined || key === "POST /v1/shutdown") continue;
      const [method, url] = key.split(" ") as [string, string];
      const send = (body: unknown) =>
        app.inject({
          method: method as "POST",
          url: concrete(url),
          headers: { authorization: `Bearer ${admin}` },
          payload: body as Record<string, unknown>,
        });
      if (schema.additionalProperties === false) {
        const response = await send({ notInTheContract: 1 });
        assert.equal(response.statusCode, 400, `${key} took a field it does not describe`);
        checked += 1;
      }
      if ((schema.required ?? []).length > 0) {
        const response = await send({});
        assert.equal(response.statusCode, 400, `${key} took a body without ${schema.required?.join(", ")}`);
        assert.match(response.json<{ detail: string }>().detail, new RegExp(schema.required?.[0] ?? ""));
      }
    }
    assert.ok(checked >= 6, `only ${checked} bodies were checked`);
  });

  test("every answer in these tests is what its route's contract says", () => {
    assert.deepEqual(contractBreaches, []);
    assert.ok(answersChecked.size >= 10, `only ${[...answersChecked].join(", ")} were checked`);
  });
});
