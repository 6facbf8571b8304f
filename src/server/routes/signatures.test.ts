/**
 * The signature routes on the API shell, over a stage whose history the real gate judged: who may
 * read them, the heatmap's SLIs x builds with their thresholds, its pages, and its refusals.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Role } from "../../api/contract.js";
import { signatureHeatmapSchema, signatureRoutes, type SignatureHeatmapView } from "../../api/signatures.js";
import { newEvent } from "../../store/events.js";
import { openSqliteStore, type SqliteStore } from "../../store/sqlite-store.js";
import { checkRoleMatrix, tokensForEveryRole } from "../../testing/role-matrix.js";
import { signatureHistory } from "../../testing/signature-history.js";
import { createApiServer } from "../api-server.js";
import { TokenRegistry } from "../auth.js";
import { registerSignatureRoutes } from "./signatures.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-signature-routes-"));
const BUILDS = 120;
let store: SqliteStore;
let app: FastifyInstance;
let tokens: Record<Role, string>;

before(async () => {
  tokens = tokensForEveryRole(stateDir);
  store = await openSqliteStore(join(stateDir, "waybill.db"));
  await store.append([
    newEvent("service.registered", "services/cart", {
      name: "cart",
      dir: "/srv/cart",
      stages: ["dev", "staging"],
    }),
    ...signatureHistory({ service: "cart", stage: "staging", builds: BUILDS }),
  ]);
  ({ app } = createApiServer(TokenRegistry.load(stateDir)));
  registerSignatureRoutes(app, { store });
  await app.ready();
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
});

async function heatmap(query: string): Promise<SignatureHeatmapView> {
  const response = await app.inject({
    method: "GET",
    url: `/v1/signatures/heatmap?${query}`,
    headers: { authorization: `Bearer ${tokens.viewer}` },
  });
  assert.equal(response.statusCode, 200, response.body);
  return signatureHeatmapSchema.parse(response.json());
}

test("the signature routes answer viewers and up, and refuse no token or a wrong one", async () => {
  await checkRoleMatrix(
    app,
    signatureRoutes.map((route) => ({ method: route.method, url: route.path, role: route.role })),
    tokens,
  );
});

describe("GET /v1/signatures/heatmap", () => {
  test("answers a stage's SLIs x builds, newest first, each cell with its status and thresholds", async () => {
    const page = await heatmap("stage=staging&limit=30");
    assert.equal(page.total, BUILDS);
    assert.equal(page.builds.length, 30);
    assert.deepEqual(
      page.slis.map((row) => row.sli),
      ["error_rate", "latency_p95"],
      "the key SLI first",
    );
    assert.equal(page.builds[0]?.runId, `r-seed-${BUILDS - 1}`);
    const statuses = new Set(
      page.builds.flatMap((build) => Object.values(build.cells).map((cell) => cell.status)),
    );
    for (const status of ["pass", "warning", "fail"]) assert.ok(statuses.has(status as "pass"), status);
    const latency = page.builds[0]?.cells.latency_p95;
    assert.ok(latency);
    assert.deepEqual(latency.passCriteria, ["<=500", "<=+10%"]);
    assert.equal(latency.better, "lower");
    assert.ok(
      latency.baseline !== null && latency.passThreshold !== null && latency.warningThreshold !== null,
    );
    // "<=+10%" over the baseline is tighter than "<=500", and the warning's +20% looser still.
    assert.equal(latency.passThreshold, latency.baseline * 1.1);
    assert.ok(Math.abs(latency.warningThreshold - latency.baseline * 1.2) < 1e-9);
  });

  test("pages through every build with `next`, each once, oldest last", async () => {
    const seen: string[] = [];
    let before: string | null = null;
    do {
      const page: SignatureHeatmapView = await heatmap(
        `stage=staging&limit=50${before === null ? "" : `&before=${before}`}`,
      );
      seen.push(...page.builds.map((build) => build.runId));
      before = page.next;
    } while (before !== null);
    assert.equal(seen.length, BUILDS);
    assert.equal(new Set(seen).size, BUILDS);
    assert.equal(seen.at(-1), "r-seed-0");
  });

  test("gives the first build, with no baseline, only its fixed thresholds", async () => {
    const oldest = await heatmap(`stage=staging&limit=1&before=r-seed-1`);
    const latency = oldest.builds[0]?.cells.latency_p95;
    assert.equal(oldest.builds[0]?.runId, "r-seed-0");
    assert.equal(oldest.next, null);
    assert.deepEqual(
      { baseline: latency?.baseline, pass: latency?.passThreshold, warning: latency?.warningThreshold },
      { baseline: null, pass: 500, warning: null },
    );
  });

  test("answers a stage with no signatures yet with no builds", async () => {
    const page = await heatmap("stage=dev");
    assert.deepEqual(
      { total: page.total, builds: page.builds, next: page.next },
      { total: 0, builds: [], next: null },
    );
  });

  const refusals = [
    { query: "", status: 400, detail: /stage/ },
    { query: "stage=staging&limit=0", status: 400, detail: /limit/ },
    { query: "stage=staging&limit=501", status: 400, detail: /limit/ },
    { query: "stage=staging&colour=red", status: 400, detail: /colour/ },
    { query: "stage=nope", status: 404, detail: /no stage named "nope"/ },
    { query: "service=nope&stage=staging", status: 404, detail: /no service named "nope"/ },
    { query: "stage=staging&before=r-unknown", status: 404, detail: /r-unknown/ },
  ];
  for (const { query, status, detail } of refusals) {
    test(`refuses ?${query} with ${status}, as a problem`, async () => {
      const response = await app.inject({
        method: "GET",
        url: `/v1/signatures/heatmap?${query}`,
        headers: { authorization: `Bearer ${tokens.viewer}` },
      });
      assert.equal(response.statusCode, status, response.body);
      assert.match(String(response.headers["content-type"]), /application\/problem\+json/);
      assert.match(String((response.json() as { detail?: string }).detail), detail);
    });
  }
});
