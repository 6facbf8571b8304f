import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { storeBackends } from "../testing/postgres.js";
import { newEvent, type NewEvent, type RunState } from "./events.js";
import { openStore, type StoreLocation } from "./open-store.js";
import type { Store } from "./store.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const backends = storeBackends("waybill-status-queries-", (undo) => cleanups.push(undo));

async function opened(location: StoreLocation): Promise<Store> {
  const { store, close } = await openStore(location);
  cleanups.push(close);
  return store;
}

const digest = (n: number) => `sha256:${String(n).padStart(64, "0")}`;

/** A run of `service`'s `stage` queued and driven to `state`, released when it succeeded */
function run(service: string, stage: string, id: string, state: RunState): NewEvent[] {
  const subject = `runs/${id}`;
  const queued = newEvent(
    "run.queued",
    subject,
    {
      runId: id,
      shipId: `ship-${id}`,
      kind: "ship",
      service,
      stage,
      stageIndex: 0,
      digest: digest(id.length),
      version: id,
    },
    id,
  );
  const events: NewEvent[] = [queued];
  if (state === "queued") return events;
  events.push(newEvent("run.started", subject, {}, id));
  if (state === "waiting-approval") {
    events.push(
      newEvent("run.waiting-approval", subject, { result: "pass", deadline: "2099-01-01T00:00:00Z" }, id),
    );
  } else if (state === "succeeded") {
    events.push(
      newEvent(
        "release.recorded",
        `services/${service}/stages/${stage}`,
        { service, stage, target: "local", digest: digest(id.length), version: id },
        id,
      ),
      newEvent("run.finished", subject, { state: "succeeded" }, id),
    );
  } else if (state === "failed") {
    events.push(newEvent("run.finished", subject, { state: "failed", reason: "the gate failed" }, id));
  }
  return events;
}

const registered = (name: string) =>
  newEvent("service.registered", `services/${name}`, { name, dir: `/srv/${name}`, stages: ["dev", "prod"] });

/** Two services: cart with history in both stages and a queue in dev; shop with one failed run */
const history: NewEvent[] = [
  registered("cart"),
  registered("shop"),
  ...run("cart", "dev", "c1", "succeeded"),
  ...run("cart", "dev", "c2", "failed"),
  ...run("cart", "prod", "c3", "succeeded"),
  ...run("cart", "dev", "c4", "succeeded"),
  ...run("cart", "prod", "c5", "succeeded"),
  ...run("shop", "dev", "s1", "failed"),
  ...run("cart", "dev", "c6", "waiting-approval"),
  ...run("cart", "dev", "c7", "queued"),
  ...run("cart", "dev", "c8", "queued"),
];

for (const backend of backends) {
  describe(`statusRows on ${backend.name}`, { skip: backend.skip }, () => {
    test("reads the open runs in queue order, each stage's newest finished run, and what is live", async () => {
      const store = await opened(await backend.location());
      await store.append(history);
      const rows = await store.statusRows();
      assert.deepEqual(
        rows.open.map((r) => [r.id, r.state]),
        [
          ["c6", "waiting-approval"],
          ["c7", "queued"],
          ["c8", "queued"],
        ],
      );
      assert.deepEqual(rows.lastFinished.map((r) => `${r.service}/${r.stage}:${r.id}`).sort(), [
        "cart/dev:c4",
        "cart/prod:c5",
        "shop/dev:s1",
      ]);
      assert.deepEqual(
        rows.releases.map((r) => [r.service, r.stage, r.runId, r.replacedAt]),
        [
          ["cart", "dev", "c4", null],
          ["cart", "prod", "c5", null],
        ],
      );
      assert.deepEqual(rows.open[0], await store.getRun("c6"));
    });

    test("reads one service's rows when named", async () => {
      const store = await opened(await backend.location());
      await store.append(history);
      const rows = await store.statusRows("shop");
      assert.deepEqual(rows.open, []);
      assert.deepEqual(
        rows.lastFinished.map((r) => r.id),
        ["s1"],
      );
      assert.deepEqual(rows.releases, []);
    });

    test("the head is the newest event's seq, 0 for an empty log, and moves with every append", async () => {
      const store = await opened(await backend.location());
      assert.equal(await store.head(), 0);
      const stored = await store.append(history);
      assert.equal(await store.head(), stored.at(-1)?.seq);
      const [next] = await store.append(run("shop", "dev", "s9", "queued"));
      assert.equal(await store.head(), next?.seq);
      assert.ok((next?.seq ?? 0) > (stored.at(-1)?.seq ?? 0));
    });
  });
}
