import assert from "node:assert/strict";
import { checkRoleMatrix, tokensForEveryRole } from "../../testing/role-matrix.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CloudEvent, HTTP } from "cloudevents";
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import { artifactDigest } from "../../artifact/digest.js";
import { Engine } from "../../engine/engine.js";
import { EventIntake } from "../../integrations/intake.js";
import { newEvent } from "../../store/events.js";
import { IntegrationStore, type IntegrationTables } from "../../store/integration-store.js";
import { KyselyStore } from "../../store/kysely-store.js";
import type { Database as Tables } from "../../store/schema.js";
import { openSqliteDatabase } from "../../store/sqlite-store.js";
import { createApiServer, type RouteInfo } from "../api-server.js";
import { TokenRegistry, type Role } from "../auth.js";
import { registerEventRoutes } from "./events.js";
import { recordingControlPlane } from "../../testing/recording-control-plane.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-events-"));
const serviceDir = join(stateDir, "service");
let roleTokens: Record<Role, string>;
let db: Kysely<Tables>;
let store: KyselyStore;
let engine: Engine;
let integrations: IntegrationStore;
let app: FastifyInstance;
/** The digest of the local service's folder, shipped once before the tests */
let folderDigest: string;
const routes: RouteInfo[] = [];

const digest = (letter: string) => `sha256:${letter.repeat(64)}`;

before(async () => {
  roleTokens = tokensForEveryRole(stateDir);
  mkdirSync(join(serviceDir, "dist"), { recursive: true });
  writeFileSync(join(serviceDir, "dist", "server.js"), "// the app\n");
  db = (await openSqliteDatabase(join(stateDir, "waybill.db"))) as unknown as Kysely<Tables>;
  store = new KyselyStore(db, "sqlite", undefined, async () => undefined);
  integrations = new IntegrationStore(db as unknown as Kysely<IntegrationTables>);
  const recorder = recordingControlPlane(store, stateDir);
  engine = recorder.engine;
  const { deliveries } = recorder;
  // Runs are queued here, never executed: there is no target.
  await engine.stop();
  const intake = new EventIntake({ integrations, store, deliveries, engine });
  const server = createApiServer(TokenRegistry.load(stateDir));
  app = server.app;
  registerEventRoutes(app, { intake, integrations });
  await app.ready();
  routes.push(...server.routes);

  // Two services shipped once the ordinary way: one to Kubernetes (an image), one locally (a folder).
  await deliveries.ship(
    {
      spec: kubeSpec,
      serviceDir,
      image: `registry.example/shop@${digest("a")}`,
      digest: digest("a"),
      version: "1.0.0",
    },
    { name: "admin", mayChangePolicy: true },
  );
  folderDigest = await artifactDigest(join(serviceDir, "dist"));
  await deliveries.ship(
    {
      spec: localSpec,
      serviceDir,
      artifactDir: join(serviceDir, "dist"),
      digest: folderDigest,
      version: "2.0.0",
    },
    { name: "admin", mayChangePolicy: true },
  );
});

after(async () => {
  await app.close();
  await engine.stop();
  await db.destroy();
  rmSync(stateDir, { recursive: true, force: true });
});

const kubeSpec = {
  metadata: { name: "shop" },
  run: { image: `registry.example/shop@${digest("a")}` },
  stages: [{ name: "prod", target: "kube:prod" }],
};
const localSpec = {
  metadata: { name: "cart" },
  run: { command: "node dist/server.js" },
  stages: [{ name: "dev" }],
};

function post(role: Role, message: { headers: Record<string, string>; body: string | Buffer }) {
  return app.inject({
    method: "POST",
    url: "/v1/events",
    headers: { ...message.headers, authorization: `Bearer ${roleTokens[role]}` },
    payload: message.body,
  });
}

function cloudEvent(fields: { id: string; type: string; data?: unknown; source?: string }) {
  return new CloudEvent({ source: "/ci/pipeline", datacontenttype: "application/json", ...fields });
}

const structured = (event: CloudEvent<unknown>) =>
  HTTP.structured(event) as { headers: Record<string, string>; body: string };
const binary = (event: CloudEvent<unknown>) =>
  HTTP.binary(event) as { headers: Record<string, string>; body: string };

interface Answer {
  duplicate: boolean;
  action: string;
  state: string;
  outcome: {
    shipId?: string;
    runs?: { id: string; digest: string; version: string }[];
    run?: { id: string; state: string };
  };
}

describe("POST /v1/events", () => {
  test("ships a pushed image for the service whose images it is, sent in binary mode", async () => {
    const event = cloudEvent({
      id: "push-1",
      type: "dev.waybill.image.pushed",
      data: { image: `registry.example/shop@${digest("b")}`, version: "1.1.0" },
    });
    const response = await post("developer", binary(event));
    assert.equal(response.statusCode, 202, response.body);
    const answer = response.json<Answer>();
    assert.equal(answer.duplicate, false);
    assert.equal(answer.action, "ship");
    assert.equal(answer.outcome.runs?.[0]?.digest, digest("b"));
    assert.equal(answer.outcome.runs?.[0]?.version, "1.1.0");
    const runs = await store.listRuns({ shipId: answer.outcome.shipId ?? "" });
    assert.equal(runs.length, 1);
    assert.equal(
      (await store.getArtifact("shop", digest("b")))?.path,
      `registry.example/shop@${digest("b")}`,
    );
  });

  test("ships a recorded artifact named by its digest, sent in structured mode", async () => {
    const event = cloudEvent({
      id: "upload-1",
      type: "dev.waybill.artifact.uploaded",
      data: { digest: folderDigest },
    });
    const response = await post("developer", structured(event));
    assert.equal(response.statusCode, 202, response.body);
    const answer = response.json<Answer>();
    assert.equal(answer.outcome.runs?.[0]?.digest, folderDigest);
    assert.equal(answer.outcome.runs?.[0]?.version, "2.0.0");
  });

  test("accepts a duplicate (source, id) once: the resend is answered as a duplicate and ships nothing", async () => {
    const event = cloudEvent({
      id: "upload-2",
      type: "dev.waybill.artifact.uploaded",
      data: { service: "cart", version: "2.0.0" },
    });
    const first = await post("developer", structured(event));
    assert.equal(first.statusCode, 202, first.body);
    const runsBefore = (await store.listRuns({ service: "cart" })).length;
    // The same event again, in the other mode, from another token.
    const again = await post("admin", binary(event));
    assert.equal(again.statusCode, 202, again.body);
    assert.equal(again.json<Answer>().duplicate, true);
    assert.equal(again.json<Answer>().outcome.shipId, first.json<Answer>().outcome.shipId);
    assert.equal((await store.listRuns({ service: "cart" })).length, runsBefore);
    // The same id from another source is another event.
    const elsewhere = await post(
      "developer",
      structured(
        cloudEvent({ ...event, source: "/other", id: "upload-2", type: event.type, data: event.data }),
      ),
    );
    assert.equal(elsewhere.json<Answer>().duplicate, false);
  });

  test("decides an approval sent as an event by an approver, and refuses it from a developer", async () => {
    const waiting = async (runId: string) => {
      await store.append([
        newEvent(
          "run.queued",
          `runs/${runId}`,
          {
            runId,
            shipId: "s",
            kind: "ship",
            service: "cart",
            stage: "dev",
            stageIndex: 0,
            digest: folderDigest,
            version: "2.0.0",
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
    };
    await waiting("run-approve");
    const approval = cloudEvent({
      id: "approve-1",
      type: "dev.waybill.approval.granted",
      data: { run: "run-approve" },
    });
    const refused = await post("developer", structured(approval));
    assert.equal(refused.statusCode, 403);
    assert.match(refused.json<{ detail: string }>().detail, /needs the approver role/);
    assert.equal((await store.getRun("run-approve"))?.state, "waiting-approval");
    assert.equal(
      await integrations.intake("/ci/pipeline", "approve-1"),
      undefined,
      "a refused event is not recorded",
    );

    const approved = await post("approver", structured(approval));
    assert.equal(approved.statusCode, 202, approved.body);
    assert.notEqual((await store.getRun("run-approve"))?.state, "waiting-approval");
    const decisions = (await store.events({ run: "run-approve" })).filter((event) =>
      event.type.endsWith("run.approved"),
    );
    assert.deepEqual(
      decisions.map((event) => event.data.by),
      ["approver"],
    );
    assert.equal((await post("approver", structured(approval))).json<Answer>().duplicate, true);

    await waiting("run-reject");
    const rejection = cloudEvent({
      id: "reject-1",
      type: "dev.waybill.approval.rejected",
      data: { run: "run-reject", reason: "p99 too high" },
    });
    assert.equal((await post("approver", binary(rejection))).statusCode, 202);
    assert.equal((await store.getRun("run-reject"))?.reason, "p99 too high");
  });

  test("refuses what it cannot act on with a 4xx problem naming what is missing, and records nothing", async () => {
    const cases: [
      what: string,
      message: { headers: Record<string, string>; body: string },
      status: number,
      detail: RegExp,
    ][] = [
      [
        "no CloudEvent at all",
        { headers: { "content-type": "application/json" }, body: "{}" },
        400,
        /not a CloudEvent/,
      ],
      [
        "a structured event without a source",
        {
          headers: { "content-type": "application/cloudevents+json" },
          body: JSON.stringify({ specversion: "1.0", id: "x", type: "t" }),
        },
        400,
        /source is required/,
      ],
      [
        "a binary event without ce-id",
        {
          headers: {
            "ce-specversion": "1.0",
            "ce-source": "/ci",
            "ce-type": "dev.waybill.image.pushed",
            "content-type": "application/json",
          },
          body: "{}",
        },
        400,
        /id is required/,
      ],
      [
        "spec version 0.3",
        {
          headers: { "content-type": "application/cloudevents+json" },
          body: JSON.stringify({ specversion: "0.3", id: "x", source: "/s", type: "t" }),
        },
        400,
        /specversion must be "1.0"/,
      ],
      [
        "a batch",
        { headers: { "content-type": "application/cloudevents-batch+json" }, body: "[]" },
        400,
        /one event per request/,
      ],
      [
        "an event type it does not act on",
        structured(cloudEvent({ id: "r1", type: "com.example.unknown", data: {} })),
        400,
        /is not acted on: send dev\.waybill\.image\.pushed/,
      ],
      [
        "a pushed image without its image",
        structured(cloudEvent({ id: "r2", type: "dev.waybill.image.pushed", data: { service: "shop" } })),
        400,
        /data\.image is required/,
      ],
      [
        "an image pinned by tag only",
        structured(
          cloudEvent({
            id: "r3",
            type: "dev.waybill.image.pushed",
            data: { image: "registry.example/shop:1.2" },
          }),
        ),
        400,
        /must be pinned by digest/,
      ],
      [
        "an image of a repository no service ships",
        structured(
          cloudEvent({
            id: "r4",
            type: "dev.waybill.image.pushed",
            data: { image: `elsewhere/x@${digest("d")}` },
          }),
        ),
        400,
        /name the service in data\.service/,
      ],
      [
        "an image for a service that deploys folders",
        structured(
          cloudEvent({
            id: "r5",
            type: "dev.waybill.image.pushed",
            data: { service: "cart", image: `r/cart@${digest("d")}` },
          }),
        ),
        400,
        /runs a folder/,
      ],
      [
        "an artifact never recorded",
        structured(
          cloudEvent({ id: "r6", type: "dev.waybill.artifact.uploaded", data: { digest: digest("e") } }),
        ),
        404,
        /no artifact sha256:e+ is recorded/,
      ],
      [
        "an artifact named by version without its service",
        structured(
          cloudEvent({ id: "r7", type: "dev.waybill.artifact.uploaded", data: { version: "2.0.0" } }),
        ),
        400,
        /digest \(sha256:…\), or service and version/,
      ],
      [
        "an approval without its run",
        structured(cloudEvent({ id: "r8", type: "dev.waybill.approval.granted", data: {} })),
        400,
        /data\.run is required/,
      ],
      [
        "an approval of a run that does not wait for one",
        structured(cloudEvent({ id: "r9", type: "dev.waybill.approval.granted", data: { run: "nope" } })),
        404,
        /no run with id "nope"/,
      ],
      [
        "data that is not JSON",
        {
          headers: {
            "ce-specversion": "1.0",
            "ce-id": "r10",
            "ce-source": "/ci",
            "ce-type": "dev.waybill.image.pushed",
            "content-type": "application/octet-stream",
          },
          body: "\u0001\u0002",
        },
        400,
        /carries its data as a JSON object/,
      ],
    ];
    for (const [what, message, status, detail] of cases) {
      const response = await post("admin", message);
      assert.equal(response.statusCode, status, `${what}: ${response.body}`);
      assert.match(String(response.headers["content-type"]), /^application\/problem\+json/, what);
      assert.match(response.json<{ detail: string }>().detail, detail, what);
    }
    const recorded = await integrations.listIntake(1000);
    assert.ok(!recorded.some((event) => /^r\d+$/.test(event.id)), "no refused event was recorded");
  });

  test("keeps every accepted event, newest first, for viewers", async () => {
    const response = await app.inject({
      method: "GET",
      url: "/v1/events?limit=2",
      headers: { authorization: `Bearer ${roleTokens.viewer}` },
    });
    assert.equal(response.statusCode, 200);
    const { events } = response.json<{
      events: { id: string; receivedAt: string; event: { data?: unknown } }[];
    }>();
    assert.equal(events.length, 2);
    assert.ok(events[0]!.receivedAt >= events[1]!.receivedAt);
    assert.ok(
      events.every((event) => event.event.data !== undefined),
      "the event is kept with its data",
    );
  });
});

describe("events: authorization over the role matrix", () => {
  const eventRoutes = () => routes.filter((route) => route.url === "/v1/events");

  test("both routes are registered, receiving for developers and listing for viewers", () => {
    assert.deepEqual(
      eventRoutes()
        .map((route) => `${route.method} ${route.role}`)
        .sort(),
      ["GET viewer", "POST developer"],
    );
  });

  test("no token and a wrong token get 401; a role below the route's 403; its own role and above get through", async () => {
    await checkRoleMatrix(app, eventRoutes(), roleTokens);
  });
});
