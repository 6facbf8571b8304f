import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { newEvent, type NewEvent, type RunState } from "../store/events.js";
import { openStore } from "../store/open-store.js";
import { storeBackends } from "../testing/postgres.js";
import { listRunViews, serviceStatus } from "./run-views.js";
import { stageStatus } from "./status.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const backends = storeBackends("waybill-run-views-", (undo) => cleanups.push(undo));

/** A run queued and driven to `state`; one that succeeded was released to its stage's one target */
function run(service: string, stage: string, id: string, state: RunState): NewEvent[] {
  const subject = `runs/${id}`;
  const digest = `sha256:${id.padStart(64, "0")}`;
  const data = {
    runId: id,
    shipId: `ship-${id}`,
    kind: "ship" as const,
    service,
    stage,
    stageIndex: 0,
    digest,
    version: id,
  };
  const events: NewEvent[] = [newEvent("run.queued", subject, data, id)];
  if (state === "queued") return events;
  events.push(newEvent("run.started", subject, {}, id));
  if (state === "waiting-approval") {
    events.push(
      newEvent("run.waiting-approval", subject, { result: "pass", deadline: "2099-01-01T00:00:00Z" }, id),
    );
  } else if (state === "succeeded") {
    const release = { service, stage, target: "local", digest, version: id };
    events.push(
      newEvent("release.recorded", `services/${service}/stages/${stage}`, release, id),
      newEvent("run.finished", subject, { state: "succeeded" }, id),
    );
  } else if (state === "failed") {
    events.push(newEvent("run.finished", subject, { state: "failed", reason: "the gate failed" }, id));
  }
  return events;
}

const registered = (name: string) =>
  newEvent("service.registered", `services/${name}`, { name, dir: `/srv/${name}`, stages: ["dev", "prod"] });

const history: NewEvent[] = [
  registered("cart"),
  registered("shop"),
  registered("idle"),
  ...run("cart", "dev", "c1", "succeeded"),
  ...run("shop", "prod", "s1", "queued"),
  ...run("cart", "dev", "c2", "failed"),
  ...run("cart", "prod", "c3", "succeeded"),
  ...run("shop", "dev", "s2", "failed"),
  ...run("cart", "dev", "c4", "succeeded"),
  ...run("cart", "prod", "c5", "failed"),
  ...run("cart", "dev", "c6", "waiting-approval"),
  ...run("cart", "dev", "c7", "queued"),
  ...run("shop", "prod", "s3", "queued"),
];

const url = (service: string, stage: string) => (stage === "dev" ? `http://${service}.dev` : undefined);

for (const backend of backends) {
  describe(`run views on ${backend.name}`, { skip: backend.skip }, () => {
    test("status read in bulk is the status read service by service", async () => {
      const { store, close } = await openStore(await backend.location());
      cleanups.push(close);
      await store.append(history);
      const perService = await Promise.all(
        (await store.listServices()).map(async (s) => {
          const runs = await store.listRuns({ service: s.name });
          const releases = await store.currentReleases(s.name);
          return {
            name: s.name,
            stages: s.stages.map((stage) => stageStatus(stage, runs, releases, url(s.name, stage) ?? null)),
          };
        }),
      );
      assert.deepEqual(await serviceStatus(store, url), { services: perService, next: null });
      assert.deepEqual(await serviceStatus(store, url, "shop"), {
        services: perService.filter((s) => s.name === "shop"),
        next: null,
      });
      await assert.rejects(serviceStatus(store, url, "nope"), /no service named "nope"/);
    });

    test("status pages of services, followed by their cursor, hold every service once", async () => {
      const { store, close } = await openStore(await backend.location());
      cleanups.push(close);
      await store.append(history);
      const whole = await serviceStatus(store, url);
      assert.ok(whole.services.length > 1);
      const pages = [await serviceStatus(store, url, undefined, { limit: 1 })];
      for (let after = pages.at(-1)?.next ?? null; after !== null; after = pages.at(-1)?.next ?? null) {
        pages.push(await serviceStatus(store, url, undefined, { limit: 1, after }));
      }
      assert.deepEqual(
        pages.map((page) => page.services.length),
        whole.services.map(() => 1),
      );
      assert.deepEqual(
        pages.flatMap((page) => page.services),
        whole.services,
      );
      assert.deepEqual(await serviceStatus(store, url, undefined, { limit: whole.services.length }), whole);
    });

    test("a queued run of one service's page waits behind its own stage's run", async () => {
      const { store, close } = await openStore(await backend.location());
      cleanups.push(close);
      await store.append(history);
      const waits = (runs: Awaited<ReturnType<typeof listRunViews>>) =>
        runs.filter((r) => r.state === "queued").map((r) => [r.id, r.waitingFor?.id ?? null]);
      assert.deepEqual(waits(await listRunViews(store, { service: "cart", limit: 200 })), [["c7", "c6"]]);
      assert.deepEqual(waits(await listRunViews(store, { service: "shop", limit: 200 })), [
        ["s1", null],
        ["s3", "s1"],
      ]);
      assert.deepEqual(waits(await listRunViews(store, { limit: 200 })), [
        ["s1", null],
        ["c7", "c6"],
        ["s3", "s1"],
      ]);
    });
  });
}
