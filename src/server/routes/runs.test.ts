import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { z } from "zod";
import { runSchema } from "../../api/runs.js";
import { statusSchema } from "../../api/status.js";
import { newEvent, type NewEvent } from "../../store/events.js";
import { openStore } from "../../store/open-store.js";
import type { Store } from "../../store/store.js";
import { storeBackends } from "../../testing/postgres.js";
import { tokensForEveryRole } from "../../testing/role-matrix.js";
import { createApiServer } from "../api-server.js";
import { TokenRegistry } from "../auth.js";
import { registerRunRoutes } from "./runs.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const backends = storeBackends("waybill-run-routes-", (undo) => cleanups.push(undo));

function queued(service: string, id: string): NewEvent {
  const digest = `sha256:${id.padStart(64, "0")}`;
  const data = {
    runId: id,
    shipId: `ship-${id}`,
    kind: "ship" as const,
    service,
    stage: "dev",
    stageIndex: 0,
    digest,
    version: id,
  };
  return newEvent("run.queued", `runs/${id}`, data, id);
}

/** The run routes over a real store, with a proxy URL and live progress this test decides */
async function runRoutes(store: Store, stateDir: string) {
  const token = tokensForEveryRole(stateDir).viewer;
  const machine = { url: undefined as string | undefined, progress: undefined as string | undefined };
  const { app } = createApiServer(TokenRegistry.load(stateDir));
  registerRunRoutes(app, {
    store,
    engine: {
      liveProgress: () => machine.progress,
      approve: () => Promise.reject(new Error("not asked here")),
      reject: () => Promise.reject(new Error("not asked here")),
    },
    stageUrl: () => machine.url,
  });
  await app.ready();
  cleanups.push(() => app.close());
  const get = async (url: string) => {
    const response = await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers["content-type"]), /^application\/json/);
    return response.json<unknown>();
  };
  return {
    machine,
    status: async (query = "") => statusSchema.parse(await get(`/v1/status${query}`)),
    runs: async (query = "") =>
      z.object({ runs: z.array(runSchema) }).parse(await get(`/v1/runs${query}`)).runs,
  };
}

for (const backend of backends) {
  describe(`GET /v1/status and /v1/runs on ${backend.name}`, { skip: backend.skip }, () => {
    test("an append makes the next answer fresh, whoever appended it", async () => {
      const location = await backend.location();
      const { store, close } = await openStore(location);
      cleanups.push(close);
      await store.append([
        newEvent("service.registered", "services/cart", { name: "cart", dir: "/srv/cart", stages: ["dev"] }),
      ]);
      const routes = await runRoutes(store, location.stateDir);
      const queue = async () => (await routes.status()).services[0]?.stages[0]?.queued.map((run) => run.id);
      assert.deepEqual(await queue(), []);
      assert.deepEqual(await routes.runs("?service=cart"), []);
      await store.append([queued("cart", "r1")]);
      assert.deepEqual(await queue(), ["r1"]);
      assert.deepEqual(
        (await routes.runs("?service=cart")).map((run) => run.id),
        ["r1"],
      );
      // Another process on the same database (another replica, the CLI) appends through its own store.
      const other = await openStore(location);
      await other.store.append([queued("cart", "r2")]);
      await other.close();
      assert.deepEqual(await queue(), ["r1", "r2"]);
      assert.deepEqual(
        (await routes.runs("?service=cart")).map((run) => [run.id, run.waitingFor?.id ?? null]),
        [
          ["r1", null],
          ["r2", "r1"],
        ],
      );
    });

    test("a stage's URL and a run's progress are this machine's now, never the kept answer's", async () => {
      const location = await backend.location();
      const { store, close } = await openStore(location);
      cleanups.push(close);
      await store.append([
        newEvent("service.registered", "services/cart", { name: "cart", dir: "/srv/cart", stages: ["dev"] }),
        queued("cart", "r1"),
        newEvent("run.started", "runs/r1", {}, "r1"),
      ]);
      const routes = await runRoutes(store, location.stateDir);
      const url = async () => (await routes.status()).services[0]?.stages[0]?.url;
      const progress = async () => (await routes.runs()).map((run) => run.progress ?? null);
      assert.equal(await url(), null);
      assert.deepEqual(await progress(), [null]);
      routes.machine.url = "http://127.0.0.1:4100";
      routes.machine.progress = "deploying";
      assert.equal(await url(), "http://127.0.0.1:4100");
      assert.deepEqual(await progress(), ["deploying"]);
      routes.machine.url = undefined;
      assert.equal(await url(), null);
    });
  });
}
