import assert from "node:assert/strict";
import { checkRoleMatrix, tokensForEveryRole } from "../../testing/role-matrix.js";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Role } from "../../api/contract.js";
import { doraReportSchema } from "../../api/dora.js";
import { newEvent } from "../../store/events.js";
import { openSqliteStore, type SqliteStore } from "../../store/sqlite-store.js";
import { createApiServer } from "../api-server.js";
import { TokenRegistry } from "../auth.js";
import { registerDoraRoutes } from "./dora.js";
import { registerMetricsRoutes } from "./metrics.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-metrics-routes-"));
let store: SqliteStore;
let app: FastifyInstance;
let tokens: Record<Role, string>;

before(async () => {
  tokens = tokensForEveryRole(stateDir);
  store = await openSqliteStore(join(stateDir, "waybill.db"));
  const digest = `sha256:${"c".repeat(64)}`;
  await store.append([
    newEvent("service.registered", "services/cart", { name: "cart", dir: "/srv/cart", stages: ["dev"] }),
    newEvent(
      "run.queued",
      "runs/r1",
      {
        runId: "r1",
        shipId: "s1",
        kind: "ship",
        service: "cart",
        stage: "dev",
        stageIndex: 0,
        digest,
        version: "1",
      },
      "r1",
    ),
    newEvent("run.started", "runs/r1", {}, "r1"),
    newEvent(
      "release.recorded",
      "services/cart/stages/dev",
      { service: "cart", stage: "dev", target: "local", digest, version: "1" },
      "r1",
    ),
    newEvent("run.finished", "runs/r1", { state: "succeeded" }, "r1"),
  ]);
  ({ app } = createApiServer(TokenRegistry.load(stateDir)));
  registerMetricsRoutes(app, { store });
  registerDoraRoutes(app, { store });
  await app.ready();
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
});

function get(url: string, token?: string) {
  return app.inject({
    method: "GET",
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

const routes = ["/metrics", "/v1/dora"];

test("GET /metrics and GET /v1/dora answer viewers and up, and refuse no token or a wrong one", async () => {
  await checkRoleMatrix(
    app,
    routes.map((url) => ({ method: "GET", url, role: "viewer" as const })),
    tokens,
  );
});

describe("GET /metrics", () => {
  test("answers Prometheus text that promtool accepts, with the store's runs", async () => {
    const response = await get("/metrics", tokens.viewer);
    assert.match(String(response.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    assert.match(response.body, /^waybill_runs_started_total\{service="cart",stage="dev",kind="ship"\} 1$/m);
    assert.match(response.body, /^waybill_dora_change_failure_ratio\{service="cart",stage="dev"\} 0$/m);
    assert.equal(
      execFileSync("promtool", ["check", "metrics"], { input: response.body, encoding: "utf8" }).trim(),
      "",
    );
  });
});

describe("GET /v1/dora", () => {
  test("answers the four keys of each stage, by the contract's schema", async () => {
    const response = await get("/v1/dora?service=cart&since=7d&bucket=day", tokens.viewer);
    assert.equal(response.statusCode, 200);
    const report = doraReportSchema.parse(response.json());
    assert.equal(report.days, 7);
    const [stage] = report.stages;
    assert.equal(stage?.deployments, 1);
    assert.equal(stage?.leadTime.fromShip, 1);
    assert.equal(stage?.changeFailure.ratio, 0);
    // Seven days from a time of day touch eight calendar days; from midnight, seven.
    assert.ok([7, 8].includes(stage?.series.length ?? 0));
  });

  const refusals = [
    { url: "/v1/dora?since=30", status: 400, detail: /12h, 30d or 4w/ },
    { url: "/v1/dora?since=99999w", status: 400, detail: /at most ten years/ },
    { url: "/v1/dora?bucket=month", status: 400, detail: /bucket/ },
    { url: "/v1/dora?colour=red", status: 400, detail: /colour/ },
    { url: "/v1/dora?service=nope", status: 404, detail: /no service named "nope"/ },
  ];
  for (const { url, status, detail } of refusals) {
    test(`refuses ${url} with ${status}, as a problem`, async () => {
      const response = await get(url, tokens.viewer);
      assert.equal(response.statusCode, status);
      assert.match(String(response.headers["content-type"]), /application\/problem\+json/);
      assert.match(String((response.json() as { detail?: string }).detail), detail);
    });
  }
});
