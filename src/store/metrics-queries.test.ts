import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { newEvent, type NewEvent } from "./events.js";
import { LEASE_TAKEOVER_EVENT_TYPE } from "./metrics-queries.js";
import { openSqliteStore } from "./sqlite-store.js";

const dir = mkdtempSync(join(tmpdir(), "waybill-metrics-queries-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const digest = `sha256:${"e".repeat(64)}`;
const takeover = {
  type: LEASE_TAKEOVER_EVENT_TYPE.slice("dev.waybill.".length),
  subject: "runs/r1",
  run: "r1",
  data: {},
} as unknown as NewEvent;

describe("store.metricsRows", () => {
  test("finds the run of a release even when it was queued long before the window", async () => {
    const file = join(dir, "old-run.db");
    const store = await openSqliteStore(file);
    const events = await store.append([
      newEvent(
        "run.queued",
        "runs/r1",
        {
          runId: "r1",
          shipId: "s1",
          kind: "rollback",
          service: "cart",
          stage: "prod",
          stageIndex: 0,
          digest,
          version: "1",
        },
        "r1",
      ),
      newEvent(
        "release.recorded",
        "services/cart/stages/prod",
        { service: "cart", stage: "prod", target: "a", digest, version: "1" },
        "r1",
      ),
      newEvent(
        "release.recorded",
        "services/cart/stages/prod",
        { service: "cart", stage: "prod", target: "b", digest, version: "1" },
        "r1",
      ),
    ]);
    const database = new Database(file);
    database
      .prepare("update events set time = ? where seq = ?")
      .run("2026-01-01T00:00:00.000Z", events[0]?.seq);
    database
      .prepare("update events set time = ? where seq = ?")
      .run("2026-03-01T00:00:02.000Z", events[1]?.seq);
    database
      .prepare("update events set time = ? where seq = ?")
      .run("2026-03-01T00:00:01.000Z", events[2]?.seq);
    database.close();
    await store.rebuildProjections();
    const { deliveries } = await store.metricsRows({ since: "2026-02-20T00:00:00.000Z" });
    assert.deepEqual(deliveries, [
      {
        service: "cart",
        stage: "prod",
        runId: "r1",
        kind: "rollback",
        digest,
        state: "queued",
        finishedAt: null,
        releasedAt: "2026-03-01T00:00:01.000Z",
        shippedAt: "2026-01-01T00:00:00.000Z",
        committedAt: null,
      },
    ]);
    await store.close();
  });

  test("counts lease takeovers appended since the last count, and those before it", async () => {
    const store = await openSqliteStore(join(dir, "takeovers.db"));
    const count = async () =>
      (await store.metricsRows({ since: "2026-01-01T00:00:00.000Z", aggregates: { durationBuckets: [1] } }))
        .aggregates?.leaseTakeovers;
    assert.equal(await count(), 0);
    await store.append([takeover, newEvent("run.started", "runs/r1", {}, "r1"), takeover]);
    assert.equal(await count(), 2);
    assert.equal(await count(), 2);
    await store.append([takeover]);
    assert.equal(await count(), 3);
    await store.close();
  });
});
