/**
 * Two engines sharing one PostgreSQL database, as two control-plane replicas do. A replica's
 * death is played by closing its database connections while its task hangs (it neither renews
 * nor releases its lease, as after kill -9); a replica that stalls past its lease is played by
 * holding back its lease calls (as a stopped process would) while another takes the run over,
 * then letting its task finish.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, test } from "node:test";
import { artifactDigest } from "../artifact/digest.js";
import { EvidenceService } from "../evidence/evidence-service.js";
import { serviceSpecSchema } from "../spec/schema.js";
import { newEvent, shortType, type StoredEvent } from "../store/events.js";
import type { KyselyStore } from "../store/kysely-store.js";
import { openPostgresStore } from "../store/postgres-store.js";
import type { Target, TargetContext } from "../targets/target.js";
import { freshDatabase, postgresAvailability } from "../testing/postgres.js";
import { Engine } from "./engine.js";
import { builtinTasks } from "./tasks/index.js";

const postgres = postgresAvailability();
const root = mkdtempSync(join(tmpdir(), "waybill-replicas-"));
after(() => rmSync(root, { recursive: true, force: true }));
const evidence = EvidenceService.open(join(root, "state"));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A target whose deploy, while `hang` is set, waits until `finishDeploy()` or the task is aborted. */
class HangingTarget implements Target {
  readonly name = "local";
  readonly calls: string[] = [];
  private finish: () => void = () => undefined;
  constructor(private readonly hang: boolean) {}

  finishDeploy(): void {
    this.finish();
  }

  private async step(step: string, context: TargetContext): Promise<void> {
    this.calls.push(step);
    if (this.hang && step === "deploy") {
      await new Promise<void>((resolve, reject) => {
        this.finish = resolve;
        context.signal.addEventListener("abort", () => reject(new Error("aborted")));
      });
    }
  }
  deploy = (context: TargetContext) => this.step("deploy", context);
  checkHealth = (context: TargetContext) => this.step("checkHealth", context);
  release = (context: TargetContext) => this.step("release", context);
  rollback = (context: TargetContext) => this.step("rollback", context);
  url = () => undefined;
  testEndpoint = () => ({ url: "http://127.0.0.1:9", headers: {} });
  baselineEndpoint = () => undefined;
  startMeasurement = async () => ({
    stop: async () => ({ process: null, baselineProcess: null, latencySamplesMs: [] }),
  });
  setCanaryWeight = async (_context: TargetContext, _weight: number) => ({
    observe: async () => ({ stable: null, canary: null }),
  });
  sizingLab = () => Promise.reject(new Error("this test target has no sizing lab"));
  runtimeLimits = () => Promise.resolve(null);
  dependencyUsage = () => Promise.resolve(null);
  plainPath = () => null;
}

async function sharedDatabase(): Promise<{ url: string; open(): Promise<KyselyStore> }> {
  const database = await freshDatabase();
  cleanups.push(() => database.drop());
  return {
    url: database.url,
    async open() {
      const store = await openPostgresStore(database.url, { maxConnections: 4 });
      cleanups.push(() => store.close().catch(() => undefined));
      return store;
    },
  };
}

async function recordArtifact(store: KyselyStore, stages: unknown[] = [{ name: "dev" }]): Promise<string> {
  const artifact = join(root, `artifact-${Math.random().toString(16).slice(2)}`);
  mkdirSync(artifact, { recursive: true });
  writeFileSync(join(artifact, "server.js"), "// app");
  const digest = await artifactDigest(artifact);
  const spec = serviceSpecSchema.parse({
    metadata: { name: "shop" },
    run: { command: "node server.js" },
    stages,
  });
  await store.append([
    newEvent("artifact.recorded", "artifacts/x", {
      service: "shop",
      digest,
      version: "1",
      path: artifact,
      mountPath: ".",
      spec,
    }),
  ]);
  return digest;
}

/**
 * The store as a stopped process would use it: while stalled, its lease calls (renewals and
 * claims) wait, as they would in a process that is not scheduled, and go on when it resumes.
 */
function stalling(store: KyselyStore): { store: KyselyStore; stall(): void; resume(): void } {
  let stalled: Promise<void> | undefined;
  let resume = () => undefined as void;
  const held = new Set<PropertyKey>(["renewRun", "claimRun"]);
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (!held.has(property) || typeof value !== "function")
        return typeof value === "function" ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        await stalled;
        return (value as (...given: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return {
    store: proxy,
    stall() {
      stalled = new Promise<void>((resolve) => (resume = resolve));
    },
    resume() {
      resume();
      stalled = undefined;
    },
  };
}

function replica(
  store: KyselyStore,
  target: HangingTarget,
  name: string,
  log: (line: string) => void = () => undefined,
): Engine {
  const engine = new Engine({
    store,
    evidence,
    tasks: builtinTasks(),
    targets: { resolve: () => target },
    log,
    replica: { replica: `m1/1/${name}`, machine: "m1" },
    leaseMs: 600,
    rescanMs: 100,
  });
  cleanups.push(() => engine.stop());
  return engine;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${what} did not happen within 30 s`);
}

/** Each task's completions in the log, by task */
function completions(events: StoredEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events) {
    if (shortType(event) !== "task.succeeded") continue;
    const task = String(event.data.task);
    counts.set(task, (counts.get(task) ?? 0) + 1);
  }
  return counts;
}

describe(
  "replicas sharing a PostgreSQL database",
  { skip: postgres.available ? false : postgres.reason, timeout: 120_000 },
  () => {
    test("when a replica dies mid-task, another takes the run over after its lease and finishes it once", async () => {
      const database = await sharedDatabase();
      const storeA = await database.open();
      const storeB = await database.open();
      const digest = await recordArtifact(storeA);
      const hanging = new HangingTarget(true);
      const a = replica(storeA, hanging, "a");
      await a.start();
      const run = await a.enqueue({
        shipId: "s1",
        kind: "ship",
        service: "shop",
        stage: "dev",
        digest,
        version: "1",
      });
      await until("replica A deploys", async () => hanging.calls.includes("deploy"));

      await storeA.close();
      const b = replica(storeB, new HangingTarget(false), "b");
      await b.start();
      await until(
        "replica B finishes the run",
        async () => (await storeB.getRun(run.id))?.state === "succeeded",
      );

      const events = await storeB.events({ run: run.id });
      const takeovers = events.filter((event) => shortType(event) === "task.lease-taken-over");
      assert.deepEqual(
        takeovers.map((event) => [event.data.from, event.data.by]),
        [["m1/1/a", "m1/1/b"]],
      );
      assert.ok(
        [...completions(events).values()].every((count) => count === 1),
        JSON.stringify([...completions(events)]),
      );
      assert.equal(completions(events).get("release"), 1);
      assert.equal((await storeB.listRuns()).length, 1, "no run lost or added");
    });

    test("a replica that stalled past its lease commits nothing after the takeover", async () => {
      const database = await sharedDatabase();
      const storeA = await database.open();
      const storeB = await database.open();
      const digest = await recordArtifact(storeA);
      const hanging = new HangingTarget(true);
      const stalled = stalling(storeA);
      const lines: string[] = [];
      const a = replica(stalled.store, hanging, "a", (line) => lines.push(line));
      await a.start();
      const run = await a.enqueue({
        shipId: "s1",
        kind: "ship",
        service: "shop",
        stage: "dev",
        digest,
        version: "1",
      });
      await until("replica A deploys", async () => hanging.calls.includes("deploy"));

      stalled.stall();
      const b = replica(storeB, new HangingTarget(false), "b");
      await b.start();
      await until(
        "replica B finishes the run",
        async () => (await storeB.getRun(run.id))?.state === "succeeded",
      );
      const finished = (await storeB.events({ run: run.id })).length;

      hanging.finishDeploy();
      await until("replica A finds its lease gone", async () =>
        lines.some((line) => /no longer holds its lease/.test(line)),
      );
      stalled.resume();
      await a.stop();

      const events = await storeB.events({ run: run.id });
      assert.equal(events.length, finished, "A appended nothing once B had the run");
      assert.ok([...completions(events).values()].every((count) => count === 1));
      assert.equal(events.filter((event) => shortType(event) === "task.lease-taken-over").length, 1);
    });
    test("a run that waits for a person lets its lease go, and an approval given at another replica drives it on once", async () => {
      const { storeB, targetA, targetB, b, run } = await runWaitingForApproval();
      await b.start();
      await b.approve(run.id, "alice");
      await until("the run succeeds", async () => (await storeB.getRun(run.id))?.state === "succeeded");
      // Whichever replica claims it first drives it on (B at once, or A on its rescan), once.
      assert.equal([...targetA.calls, ...targetB.calls].filter((call) => call === "release").length, 1);
      const events = await storeB.events({ run: run.id });
      assert.equal(
        events.filter((event) => shortType(event) === "task.lease-taken-over").length,
        0,
        "a released lease is claimed, not taken over",
      );
    });
    test("an approval that arrives after the run was rejected is refused and changes nothing", async () => {
      const { storeA, storeB, targetA, targetB, a, b, run } = await runWaitingForApproval();
      await b.start();
      // As the approval timeout (or a newer ship) rejects it at A while a person's approval, which
      // found the run waiting a moment before, is on its way at B.
      await a.reject(run.id, "waybill", "no approval before the approval timeout");
      await until("the run fails", async () => (await storeA.getRun(run.id))?.state === "failed");
      await assert.rejects(b.approve(run.id, "alice"), /no longer waits|not waiting/);
      assert.equal((await storeB.getRun(run.id))?.state, "failed");
      assert.equal([...targetA.calls, ...targetB.calls].filter((call) => call === "release").length, 0);
    });
  },
);

/**
 * Two replicas on one database, A started, and a run of a manually approved stage that A has
 * brought to its wait; B is not started yet.
 */
async function runWaitingForApproval() {
  const database = await sharedDatabase();
  const storeA = await database.open();
  const storeB = await database.open();
  const digest = await recordArtifact(storeA, [{ name: "dev", approval: { pass: "manual" } }]);
  const targetA = new HangingTarget(false);
  const targetB = new HangingTarget(false);
  const a = replica(storeA, targetA, "a");
  const b = replica(storeB, targetB, "b");
  await a.start();
  const run = await a.enqueue({
    shipId: "s1",
    kind: "ship",
    service: "shop",
    stage: "dev",
    digest,
    version: "1",
  });
  await until(
    "the run waits for approval",
    async () => (await storeA.getRun(run.id))?.state === "waiting-approval",
  );
  return { storeA, storeB, targetA, targetB, a, b, run };
}
