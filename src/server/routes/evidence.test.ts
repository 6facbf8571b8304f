/**
 * The evidence and recall routes on the API shell, over artifacts with signed SBOMs and scans:
 * who may read them and who may redeploy, a large SBOM filtered and paged, the scan's findings
 * with the advisory database's age, and an SBOM no trusted key signed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Role } from "../../api/contract.js";
import {
  evidenceComponentsSchema,
  evidenceRoutes,
  evidenceVulnerabilitiesSchema,
} from "../../api/evidence.js";
import { recallRoutes } from "../../api/recall.js";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import { EvidenceService } from "../../evidence/evidence-service.js";
import { newEvent, type NewEvent } from "../../store/events.js";
import { openSqliteStore, type SqliteStore } from "../../store/sqlite-store.js";
import { checkRoleMatrix, tokensForEveryRole } from "../../testing/role-matrix.js";
import { createApiServer } from "../api-server.js";
import { TokenRegistry } from "../auth.js";
import { registerEvidenceRoutes } from "./evidence.js";
import { registerRecallRoutes } from "./recall.js";
import { Recall } from "../../engine/recall.js";
import type { Deliveries } from "../../engine/deliveries.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-evidence-routes-"));
const strangerDir = mkdtempSync(join(tmpdir(), "waybill-evidence-stranger-"));
const SIGNED = `sha256:${"a".repeat(64)}`;
const UNTRUSTED = `sha256:${"b".repeat(64)}`;
const COMPONENTS = 1400;
let store: SqliteStore;
let app: FastifyInstance;
let tokens: Record<Role, string>;

function artifact(digest: string, version: string): NewEvent {
  return newEvent("artifact.recorded", `artifacts/${digest}`, {
    service: "cart",
    digest,
    version,
    path: "/nowhere",
    mountPath: ".",
    spec: {},
  });
}

function attestation(evidence: EvidenceService, digest: string, predicateType: string, predicate: unknown) {
  return newEvent("attestation.recorded", `artifacts/${digest}/attestations`, {
    service: "cart",
    digest,
    predicateType,
    stage: null,
    envelope: evidence.sign(predicateType, predicate, { name: "cart", digest }),
  });
}

const sbom = {
  components: Array.from({ length: COMPONENTS }, (_, index) => ({
    type: "library",
    name: `pkg-${String(index).padStart(4, "0")}`,
    version: "1.0.0",
    scope: "required",
    purl: `pkg:npm/pkg-${String(index).padStart(4, "0")}@1.0.0`,
  })).concat([
    {
      type: "library",
      name: "lodash",
      version: "4.17.20",
      scope: "required",
      purl: "pkg:npm/lodash@4.17.20",
    },
  ]),
};

const scan = {
  scanner: {
    uri: "https://waybill.dev/scanner",
    version: "1",
    db: { lastUpdate: "2026-11-01T00:00:00.000Z", advisories: { npm: 12 } },
    result: [
      { id: "GHSA-low", severity: [{ method: "qualitative", score: "low" }] },
      {
        id: "GHSA-35jh-r3h4-6jhm",
        severity: [
          { method: "CVSS_V3", score: "7.2" },
          { method: "qualitative", score: "high" },
        ],
      },
    ],
  },
  metadata: { scanStartedOn: "2026-11-11T11:00:00.000Z", scanFinishedOn: "2026-11-11T12:00:00.000Z" },
  notScanned: [{ ecosystem: "pypi", packages: 3 }],
};

before(async () => {
  tokens = tokensForEveryRole(stateDir);
  store = await openSqliteStore(join(stateDir, "waybill.db"));
  const evidence = EvidenceService.open(stateDir);
  const stranger = EvidenceService.open(strangerDir);
  await store.append([
    newEvent("service.registered", "services/cart", { name: "cart", dir: "/srv/cart", stages: ["dev"] }),
    artifact(SIGNED, "1.0.0"),
    artifact(UNTRUSTED, "1.1.0"),
    attestation(evidence, SIGNED, PREDICATE_TYPES.sbom, sbom),
    attestation(evidence, SIGNED, PREDICATE_TYPES.vulns, scan),
    attestation(stranger, UNTRUSTED, PREDICATE_TYPES.sbom, sbom),
  ]);
  ({ app } = createApiServer(TokenRegistry.load(stateDir)));
  registerEvidenceRoutes(app, { store, evidence });
  // Redeploying is refused before it reaches the deliveries here: by role, or by an empty body.
  const deliveries = {} as Deliveries;
  registerRecallRoutes(app, {
    store,
    recall: new Recall(store, deliveries, join(stateDir, "advisories")),
    advisoriesDir: join(stateDir, "advisories"),
  });
  await app.ready();
});

after(async () => {
  await app.close();
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(strangerDir, { recursive: true, force: true });
});

async function get(url: string, role: Role = "viewer") {
  const response = await app.inject({
    method: "GET",
    url,
    headers: { authorization: `Bearer ${tokens[role]}` },
  });
  return response;
}

test("the evidence and recall routes answer viewers and up; redeploying is an admin's; no token or a wrong one gets 401", async () => {
  await checkRoleMatrix(
    app,
    [...evidenceRoutes, ...recallRoutes].map((route) => ({
      method: route.method,
      url: route.path,
      role: route.role,
    })),
    tokens,
  );
  const redeploy = recallRoutes.find((route) => route.path === "/v1/recall/redeploy");
  assert.equal(redeploy?.role, "admin");
});

test("a developer is refused a redeploy with the role it needs", async () => {
  const response = await app.inject({
    method: "POST",
    url: "/v1/recall/redeploy",
    headers: { authorization: `Bearer ${tokens.developer}` },
    payload: { q: "pkg:npm/lodash@<4.17.21", version: "2.0.0" },
  });
  assert.equal(response.statusCode, 403);
  assert.match(response.json<{ detail: string }>().detail, /needs the admin role/);
});

test("the SBOM's components are listed in purl order, a page at a time, filtered by any part of the purl", async () => {
  const table = [
    { query: "", total: COMPONENTS + 1, matched: COMPONENTS + 1, first: "pkg:npm/lodash@4.17.20", count: 50 },
    {
      query: "offset=1350&limit=100",
      total: COMPONENTS + 1,
      matched: COMPONENTS + 1,
      first: "pkg:npm/pkg-1349@1.0.0",
      count: 51,
    },
    { query: "filter=LODASH", total: COMPONENTS + 1, matched: 1, first: "pkg:npm/lodash@4.17.20", count: 1 },
    {
      query: "filter=pkg-13&limit=500",
      total: COMPONENTS + 1,
      matched: 100,
      first: "pkg:npm/pkg-1300@1.0.0",
      count: 100,
    },
    { query: "filter=nothing-like-it", total: COMPONENTS + 1, matched: 0, first: undefined, count: 0 },
  ];
  for (const row of table) {
    const response = await get(`/v1/evidence/${SIGNED}/components?${row.query}`);
    assert.equal(response.statusCode, 200, response.body);
    const page = evidenceComponentsSchema.parse(response.json());
    assert.equal(page.total, row.total, row.query);
    assert.equal(page.matched, row.matched, row.query);
    assert.equal(page.components.length, row.count, row.query);
    assert.equal(page.components[0]?.purl, row.first, row.query);
    assert.equal(page.sbom?.valid, true);
  }
  const byVersion = evidenceComponentsSchema.parse(
    (await get(`/v1/evidence/cart@1.0.0/components?limit=1`)).json(),
  );
  assert.equal(byVersion.digest, SIGNED);
});

test("a page beyond 500 components or a negative offset is refused with the field named", async () => {
  for (const query of ["limit=501", "offset=-1", "limit=many"]) {
    const response = await get(`/v1/evidence/${SIGNED}/components?${query}`);
    assert.equal(response.statusCode, 400, query);
    assert.match(response.json<{ detail: string }>().detail, /limit|offset/, query);
  }
});

test("an SBOM no trusted key signed lists no component, and says why", async () => {
  const page = evidenceComponentsSchema.parse((await get(`/v1/evidence/${UNTRUSTED}/components`)).json());
  assert.equal(page.sbom?.valid, false);
  assert.ok((page.sbom?.reason ?? "") !== "", "the refusal's reason is given");
  assert.equal(page.total, 0);
  assert.deepEqual(page.components, []);
});

test("the scan's findings come most severe first, with the advisory database's age at the scan", async () => {
  const response = await get(`/v1/evidence/${SIGNED}/vulnerabilities`);
  assert.equal(response.statusCode, 200, response.body);
  const view = evidenceVulnerabilitiesSchema.parse(response.json());
  assert.deepEqual(view.findings, [
    { id: "GHSA-35jh-r3h4-6jhm", severity: "high", score: 7.2 },
    { id: "GHSA-low", severity: "low", score: null },
  ]);
  assert.equal(view.database?.ageDaysAtScan, 10);
  assert.equal(view.database?.lastUpdate, "2026-11-01T00:00:00.000Z");
  assert.deepEqual(view.database?.advisories, { npm: 12 });
  assert.deepEqual(view.notScanned, [{ ecosystem: "pypi", packages: 3 }]);
  assert.equal(view.scannedAt, "2026-11-11T12:00:00.000Z");

  const none = evidenceVulnerabilitiesSchema.parse(
    (await get(`/v1/evidence/${UNTRUSTED}/vulnerabilities`)).json(),
  );
  assert.equal(none.scan, null);
  assert.equal(none.database, null);
  assert.deepEqual(none.findings, []);
});
