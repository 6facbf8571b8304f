import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Kysely } from "kysely";
import { Deliveries, type ShipRequest } from "../engine/deliveries.js";
import { Engine } from "../engine/engine.js";
import type { Actor } from "../engine/policies.js";
import type { QueuedRun } from "../store/events.js";
import { IntegrationStore, type IntegrationTables } from "../store/integration-store.js";
import { KyselyStore } from "../store/kysely-store.js";
import type { Database as Tables } from "../store/schema.js";
import { openSqliteDatabase } from "../store/sqlite-store.js";
import type { ReceivedCloudEvent } from "./cloudevents.js";
import { EventIntake, type IntakeDependencies } from "./intake.js";
import { recordingControlPlane } from "../testing/recording-control-plane.js";

const stateDir = mkdtempSync(join(tmpdir(), "waybill-intake-"));
const serviceDir = join(stateDir, "service");
let db: Kysely<Tables>;
let store: KyselyStore;
let engine: Engine;
let deliveries: Deliveries;
let integrations: IntegrationStore;

const digest = (letter: string) => `sha256:${letter.repeat(64)}`;
const admin: Actor = { name: "admin", mayChangePolicy: true };
const ci = { name: "ci", role: "developer" as const };

before(async () => {
  mkdirSync(serviceDir, { recursive: true });
  db = (await openSqliteDatabase(join(stateDir, "waybill.db"))) as unknown as Kysely<Tables>;
  store = new KyselyStore(db, "sqlite", undefined, async () => undefined);
  integrations = new IntegrationStore(db as unknown as Kysely<IntegrationTables>);
  ({ engine, deliveries } = recordingControlPlane(store, stateDir));
  await engine.stop();
  await deliveries.ship(
    {
      spec: {
        metadata: { name: "shop" },
        run: { image: `registry.example/shop@${digest("a")}` },
        stages: [{ name: "prod", target: "kube:prod" }],
      },
      serviceDir,
      image: `registry.example/shop@${digest("a")}`,
      digest: digest("a"),
      version: "1.0.0",
    },
    admin,
  );
});

after(async () => {
  await engine.stop();
  await db.destroy();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The process dies at `when`: before the action, or after it committed but before the outcome was recorded */
class Killed extends Error {}

function dyingIntake(when: "before" | "after"): EventIntake {
  const die = async <T>(work: () => Promise<T>): Promise<T> => {
    if (when === "before") throw new Killed("killed before acting");
    await work();
    throw new Killed("killed after acting");
  };
  const dependencies: IntakeDependencies = {
    integrations,
    store,
    // No lease to wait out: the successor may take over at once.
    leaseMs: -1,
    deliveries: { ship: (request: ShipRequest, actor: Actor) => die(() => deliveries.ship(request, actor)) },
    engine: {
      enqueue: (request: Omit<QueuedRun, "stageIndex">) => die(() => engine.enqueue(request)),
      approve: (run: string, by: string) => engine.approve(run, by),
      reject: (run: string, by: string, reason: string) => engine.reject(run, by, reason),
    },
  };
  return new EventIntake(dependencies);
}

function event(id: string, type: string, data: Record<string, unknown>): ReceivedCloudEvent {
  return { specversion: "1.0", id, source: "/registry", type, data, extensions: {}, mode: "structured" };
}

const runsOf = async (service: string, digestOfRuns: string) =>
  (await store.listRuns({ service })).filter((run) => run.digest === digestOfRuns);

describe("event intake across a crash", () => {
  const cases = [
    { when: "before", type: "dev.waybill.image.pushed", letter: "b" },
    { when: "after", type: "dev.waybill.image.pushed", letter: "c" },
    { when: "before", type: "dev.waybill.artifact.uploaded", letter: "a" },
    { when: "after", type: "dev.waybill.artifact.uploaded", letter: "a" },
  ] as const;
  for (const { when, type, letter } of cases) {
    test(`a ${type} whose receiver died ${when} acting is shipped exactly once by the next one`, async () => {
      const id = `${type}-${when}`;
      const data =
        type === "dev.waybill.image.pushed"
          ? { image: `registry.example/shop@${digest(letter)}` }
          : { digest: digest(letter), service: "shop" };
      const runsBefore = (await runsOf("shop", digest(letter))).length;
      await assert.rejects(dyingIntake(when).receive(event(id, type, data), ci), Killed);
      assert.equal((await integrations.intake("/registry", id))?.state, "acting", "the event stays recorded");

      const successor = new EventIntake({ integrations, store, deliveries, engine });
      // A resend meanwhile is a duplicate: the event was accepted already.
      const resent = await successor.receive(event(id, type, data), ci);
      assert.equal(resent.duplicate, true);
      assert.equal(await successor.resumeAbandoned(), 1);
      assert.equal(await successor.resumeAbandoned(), 0, "finished events are not resumed again");
      const record = await integrations.intake("/registry", id);
      assert.equal(record?.state, "done");
      const shipped = await runsOf("shop", digest(letter));
      assert.equal(shipped.length, runsBefore + 1, "one ship, neither none nor two");
      assert.equal(record?.outcome?.shipId, shipped.at(-1)?.shipId);
    });
  }

  test("an approval whose run was decided meanwhile is finished without deciding it again", async () => {
    const waiting = await engine.enqueue({
      shipId: "s-approval",
      kind: "ship",
      service: "shop",
      stage: "prod",
      digest: digest("a"),
      version: "1.0.0",
    });
    await store.append([
      {
        type: "run.waiting-approval",
        subject: `runs/${waiting.id}`,
        run: waiting.id,
        data: { result: "warning", deadline: "2099-01-01T00:00:00Z" },
      },
    ]);
    const approval = event("approval-1", "dev.waybill.approval.granted", { run: waiting.id });
    const dying = new EventIntake({
      integrations,
      store,
      deliveries,
      leaseMs: -1,
      engine: {
        enqueue: (request) => engine.enqueue(request),
        approve: async (run, by) => {
          await engine.approve(run, by);
          throw new Killed("killed after approving");
        },
        reject: (run, by, reason) => engine.reject(run, by, reason),
      },
    });
    await assert.rejects(dying.receive(approval, { name: "lead", role: "approver" }), Killed);
    const successor = new EventIntake({ integrations, store, deliveries, engine });
    assert.equal(await successor.resumeAbandoned(), 1);
    const decisions = (await store.events({ run: waiting.id })).filter((e) =>
      e.type.endsWith("run.approved"),
    );
    assert.equal(decisions.length, 1);
    assert.equal((await integrations.intake("/registry", "approval-1"))?.state, "done");
  });
});
