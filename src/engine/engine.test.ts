/**
 * The engine against a real store and a recording target. A control-plane crash is played by
 * stopping one engine in the middle of a task and starting a fresh one on the same store.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { artifactDigest } from "../artifact/digest.js";
import { EvidenceService } from "../evidence/evidence-service.js";
import type { ProtectedPolicy } from "../policy/protected-policy.js";
import { serviceSpecSchema } from "../spec/schema.js";
import { newEvent, shortType } from "../store/events.js";
import { openSqliteStore, type SqliteStore } from "../store/sqlite-store.js";
import type { Target, TargetContext } from "../targets/target.js";
import { Engine } from "./engine.js";
import { builtinTasks } from "./tasks/index.js";

const root = mkdtempSync(join(tmpdir(), "waybill-engine-"));
after(() => rmSync(root, { recursive: true, force: true }));

type Step = "deploy" | "checkHealth" | "release" | "rollback";

/** Records what the engine asked of it; a step can be made to hang or fail. */
class RecordingTarget implements Target {
  readonly calls: string[] = [];

  constructor(
    readonly name = "local",
    private readonly log: string[] = [],
  ) {}
  hangOn: Step | undefined;
  failOn: Step | undefined;

  private async step(step: Step, context: TargetContext): Promise<void> {
    this.calls.push(`${step} ${context.run.stage} ${context.run.version}`);
    this.log.push(`${step} ${this.name}`);
    if (this.failOn === step) throw new Error(`${step} broke`);
    if (this.hangOn === step) {
      await new Promise((_resolve, reject) => {
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

async function setUp(
  name: string,
  stages: unknown[],
  extra: Record<string, unknown> = {},
  files: Record<string, string> = {},
) {
  const dir = join(root, name);
  const artifact = join(dir, "artifact");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(artifact, { recursive: true });
  writeFileSync(join(artifact, "server.js"), "// app");
  for (const [file, content] of Object.entries(files)) writeFileSync(join(artifact, file), content);
  const digest = await artifactDigest(artifact);
  const store = await openSqliteStore(join(dir, "waybill.db"));
  const spec = serviceSpecSchema.parse({
    metadata: { name: "shop" },
    run: { command: "node server.js" },
    stages,
    ...extra,
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
  return { store, digest };
}

const evidence = EvidenceService.open(join(root, "state"));

function engineOn(store: SqliteStore, target: RecordingTarget): Engine {
  return new Engine({
    store,
    evidence,
    tasks: builtinTasks(),
    targets: { resolve: () => target },
    log: () => undefined,
  });
}

/** Queues a ship run of the test's `shop` service. */
function shipShop(
  engine: Engine,
  run: { shipId: string; stage: string; digest: string; version: string },
): ReturnType<Engine["enqueue"]> {
  return engine.enqueue({ ...run, kind: "ship", service: "shop" });
}

async function settle(store: SqliteStore, done: (states: string[]) => boolean): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const states = (await store.listRuns()).map((run) => `${run.stage}:${run.state}`);
    if (done(states)) return states;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(
    `runs did not settle: ${(await store.listRuns()).map((r) => `${r.stage}:${r.state}`).join(", ")}`,
  );
}

async function eventTypes(store: SqliteStore, stage: string): Promise<string[]> {
  const run = (await store.listRuns()).find((r) => r.stage === stage);
  return (await store.events({ run: run?.id ?? "" })).map(shortType);
}

test("runs each stage in order and follows the stages automatically", async () => {
  const { store, digest } = await setUp("order", [{ name: "dev" }, { name: "staging" }]);
  const target = new RecordingTarget();
  const engine = engineOn(store, target);
  await engine.start();
  await shipShop(engine, { shipId: "s1", stage: "dev", digest, version: "1" });
  assert.deepEqual(await settle(store, (s) => s.length === 2 && s.every((x) => x.endsWith("succeeded"))), [
    "dev:succeeded",
    "staging:succeeded",
  ]);
  assert.deepEqual(target.calls, [
    "deploy dev 1",
    "checkHealth dev 1",
    "release dev 1",
    "deploy staging 1",
    "checkHealth staging 1",
    "release staging 1",
  ]);
  const devEvents = await store.events({ run: (await store.listRuns())[0]?.id ?? "" });
  const finishedTasks = devEvents
    .filter((event) => shortType(event) === "task.succeeded")
    .map((event) => (event.data as { task: string }).task);
  assert.deepEqual(finishedTasks, [
    "verify-artifact",
    "deploy",
    "health",
    "test",
    "evaluate",
    "approve",
    "release",
  ]);
  const types = devEvents.map(shortType);
  assert.equal(types.indexOf("release.recorded"), types.lastIndexOf("task.succeeded") - 1);
  assert.equal(types.at(-1), "run.finished");
  await engine.stop();
  await store.close();
});

test("rolls the stage back and stops the ship when a task fails", async () => {
  const { store, digest } = await setUp("failure", [{ name: "dev" }, { name: "staging" }]);
  const target = new RecordingTarget();
  target.failOn = "checkHealth";
  const engine = engineOn(store, target);
  await engine.start();
  await shipShop(engine, { shipId: "s1", stage: "dev", digest, version: "1" });
  assert.deepEqual(await settle(store, (s) => s.includes("dev:failed")), ["dev:failed"]);
  assert.deepEqual(target.calls, ["deploy dev 1", "checkHealth dev 1", "rollback dev 1"]);
  const run = (await store.listRuns())[0];
  assert.equal(run?.reason, "health: checkHealth broke");
  await engine.stop();
  await store.close();
});

test("waits for a person where approval is manual, and a rejection rolls back", async () => {
  const { store, digest } = await setUp("approval", [{ name: "prod", approval: { pass: "manual" } }]);
  const target = new RecordingTarget();
  const engine = engineOn(store, target);
  await engine.start();
  const run = await shipShop(engine, { shipId: "s1", stage: "prod", digest, version: "1" });
  await settle(store, (s) => s.includes("prod:waiting-approval"));
  await engine.reject(run.id, "alice", "not now");
  await settle(store, (s) => s.includes("prod:failed"));
  assert.deepEqual(target.calls, ["deploy prod 1", "checkHealth prod 1", "rollback prod 1"]);
  assert.equal((await store.getRun(run.id))?.reason, "approve: rejected by alice: not now");
  await engine.stop();
  await store.close();
});

test("a newer build supersedes one that waits for approval, unless the stage says supersede: false", async () => {
  for (const supersede of [true, false]) {
    const { store, digest } = await setUp(`supersede-${supersede}`, [
      { name: "prod", approval: { pass: "manual" }, supersede },
    ]);
    const engine = engineOn(store, new RecordingTarget());
    await engine.start();
    const older = await shipShop(engine, { shipId: "s1", stage: "prod", digest, version: "1" });
    await settle(store, (s) => s.includes("prod:waiting-approval"));
    const newer = await shipShop(engine, { shipId: "s2", stage: "prod", digest, version: "2" });
    if (supersede) {
      await settle(store, (s) => s[0] === "prod:failed" && s[1] === "prod:waiting-approval");
      assert.equal((await store.getRun(older.id))?.reason, "approve: rejected by waybill: superseded by 2");
    } else {
      // A scheduling pass is where a supersede would happen: after one, nothing may have changed.
      await engine.schedule();
      assert.equal((await store.getRun(older.id))?.state, "waiting-approval", "both wait, oldest first");
      assert.equal((await store.getRun(newer.id))?.state, "queued");
    }
    await engine.stop();
    await store.close();
  }
});

/** An admin's policy for the test service's prod stage, as the control plane records one */
function prodPolicy(policy: ProtectedPolicy) {
  return newEvent("policy.changed", "services/shop/stages/prod/policy", {
    service: "shop",
    stage: "prod",
    by: "admin",
    reason: "set",
    previous: null,
    policy,
  });
}

test("the platform's policy holds a stage whose shipped spec asks for no approval and no evidence", async () => {
  const { store, digest } = await setUp("policy-floor", [{ name: "prod" }]);
  await store.append([
    prodPolicy({ approval: { pass: "manual", warning: "manual" }, requires: [], gate: true }),
  ]);
  const target = new RecordingTarget();
  const engine = engineOn(store, target);
  await engine.start();
  const run = await shipShop(engine, { shipId: "s1", stage: "prod", digest, version: "1" });
  await settle(store, (s) => s.includes("prod:waiting-approval"));
  assert.deepEqual(target.calls, ["deploy prod 1", "checkHealth prod 1"], "nothing released before a person");
  await engine.approve(run.id, "carol");
  await settle(store, (s) => s.includes("prod:succeeded"));

  await store.append([
    prodPolicy({ approval: { pass: "automatic", warning: "manual" }, requires: ["provenance"], gate: true }),
  ]);
  const second = await shipShop(engine, { shipId: "s2", stage: "prod", digest, version: "1" });
  await settle(store, (s) => s.filter((x) => x.startsWith("prod:failed")).length === 1);
  assert.match((await store.getRun(second.id))?.reason ?? "", /^verify-evidence: .*provenance/);
  await engine.stop();
  await store.close();
});

test("one run at a time per stage, the others queued first in first out", async () => {
  const { store, digest } = await setUp("queue", [{ name: "dev" }]);
  const target = new RecordingTarget();
  target.hangOn = "deploy";
  const engine = engineOn(store, target);
  await engine.start();
  const first = await shipShop(engine, { shipId: "a", stage: "dev", digest, version: "1" });
  const second = await shipShop(engine, { shipId: "b", stage: "dev", digest, version: "2" });
  await settle(store, (s) => s[0] === "dev:running");
  assert.equal((await store.getRun(second.id))?.state, "queued");
  target.hangOn = undefined;
  await engine.stop();
  const resumed = engineOn(store, target);
  await resumed.start();
  await settle(store, (s) => s.every((x) => x === "dev:succeeded"));
  const finished = (await store.listRuns()).map((run) => [run.id, run.finishedAt ?? ""]);
  assert.ok((finished[0]?.[1] ?? "") <= (finished[1]?.[1] ?? ""), "the first queued finishes first");
  assert.equal(finished[0]?.[0], first.id);
  await resumed.stop();
  await store.close();
});

for (const step of ["deploy", "checkHealth", "release"] as const) {
  test(`a crash during ${step} resumes the run and releases it exactly once`, async () => {
    const { store, digest } = await setUp(`crash-${step}`, [{ name: "dev" }]);
    const target = new RecordingTarget();
    target.hangOn = step;
    const crashed = engineOn(store, target);
    await crashed.start();
    await shipShop(crashed, { shipId: "s", stage: "dev", digest, version: "1" });
    for (let i = 0; i < 200 && !target.calls.some((call) => call.startsWith(step)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await crashed.stop();

    target.hangOn = undefined;
    const restarted = engineOn(store, target);
    await restarted.start();
    await settle(store, (s) => s[0] === "dev:succeeded");
    const types = await eventTypes(store, "dev");
    assert.equal(types.filter((t) => t === "release.recorded").length, 1);
    assert.equal(types.filter((t) => t === "run.finished").length, 1);
    assert.equal(
      target.calls.filter((call) => call.startsWith(step)).length,
      2,
      "the interrupted step ran again",
    );
    await restarted.stop();
    await store.close();
  });
}

test("a task that overruns its timeout fails the run and rolls the stage back", async () => {
  const { store, digest } = await setUp("timeout", [{ name: "dev", timeouts: { deploy: "300ms" } }]);
  const target = new RecordingTarget();
  target.hangOn = "deploy";
  const engine = engineOn(store, target);
  await engine.start();
  const run = await shipShop(engine, { shipId: "s", stage: "dev", digest, version: "1" });
  await settle(store, (s) => s[0] === "dev:failed");
  assert.equal((await store.getRun(run.id))?.reason, "deploy: task deploy timed out after 300ms");
  assert.deepEqual(target.calls, ["deploy dev 1", "rollback dev 1"]);
  await engine.stop();
  await store.close();
});

test("an artifact whose stored copy was altered is refused before deploy", async () => {
  const { store, digest } = await setUp("tampered", [{ name: "dev" }]);
  const artifact = await store.getArtifact("shop", digest);
  writeFileSync(join(artifact?.path ?? "", "server.js"), "// altered");
  const target = new RecordingTarget();
  const engine = engineOn(store, target);
  await engine.start();
  const run = await shipShop(engine, { shipId: "s", stage: "dev", digest, version: "1" });
  await settle(store, (s) => s[0] === "dev:failed");
  assert.match(
    (await store.getRun(run.id))?.reason ?? "",
    /^verify-artifact: the stored artifact does not match its digest/,
  );
  assert.deepEqual(target.calls, ["rollback dev 1"]);
  await engine.stop();
  await store.close();
});

test("the gate takes SLIs from a command provider and fails the run naming the SLI", async () => {
  const { store, digest } = await setUp(
    "provider",
    [{ name: "dev" }],
    {
      sli: [{ provider: "command", command: "node sli.mjs" }],
      slo: { objectives: [{ sli: "queue_depth", pass: [{ criteria: ["<10"] }], key_sli: true }] },
    },
    { "sli.mjs": "console.log(JSON.stringify({ queue_depth: Number(process.env.WAYBILL_VERSION) }))" },
  );
  const target = new RecordingTarget();
  const engine = engineOn(store, target);
  await engine.start();
  const good = await shipShop(engine, { shipId: "a", stage: "dev", digest, version: "3" });
  await settle(store, (s) => s[0] === "dev:succeeded");
  assert.equal((await store.getRun(good.id))?.result, "pass");
  const bad = await shipShop(engine, { shipId: "b", stage: "dev", digest, version: "42" });
  await settle(store, (s) => s[1] === "dev:failed");
  assert.equal((await store.getRun(bad.id))?.result, "fail");
  assert.match(
    (await store.getRun(bad.id))?.reason ?? "",
    /evaluate: quality gate failed with score 0: queue_depth key SLI = 42 violates <10/,
  );
  const [latest] = await store.evaluations("shop", "dev");
  assert.deepEqual(latest?.values, { queue_depth: 42 });
  assert.deepEqual(latest?.baseline, [good.id]);
  await engine.stop();
  await store.close();
});

test("a stage of several clusters rolls out to one at a time, and a failure rolls back only those reached", async () => {
  const image = `registry.example/shop@sha256:${"a".repeat(64)}`;
  const { store, digest } = await setUp(
    "clusters",
    [{ name: "prod", targets: ["kube:a", "kube:b", "kube:c"] }],
    { run: { command: "node server.js", image } },
  );
  const log: string[] = [];
  const clusters = new Map(
    ["kube:a", "kube:b", "kube:c"].map((name) => [name, new RecordingTarget(name, log)]),
  );
  const engine = new Engine({
    store,
    evidence,
    tasks: builtinTasks(),
    targets: { resolve: (name) => clusters.get(name) ?? new RecordingTarget(name, log) },
    log: () => undefined,
  });
  await engine.start();
  await shipShop(engine, { shipId: "s", stage: "prod", digest, version: "1" });
  await settle(store, (s) => s[0] === "prod:succeeded");
  assert.deepEqual(log, [
    "deploy kube:a",
    "checkHealth kube:a",
    "deploy kube:b",
    "checkHealth kube:b",
    "deploy kube:c",
    "checkHealth kube:c",
    "release kube:a",
    "release kube:b",
    "release kube:c",
  ]);
  const [run] = await store.listRuns();
  const tasks = (await store.events({ run: run?.id ?? "" }))
    .filter((event) => shortType(event) === "task.succeeded")
    .map((event) => (event.data as { task: string }).task);
  assert.deepEqual(tasks.slice(0, 4), ["verify-artifact", "deploy kube:a", "health kube:a", "test kube:a"]);
  assert.equal((await store.currentReleases("shop", "prod")).length, 3, "the version per cluster");

  log.length = 0;
  const broken = clusters.get("kube:b");
  if (broken) broken.failOn = "checkHealth";
  await shipShop(engine, { shipId: "t", stage: "prod", digest, version: "2" });
  await settle(store, (s) => s[1] === "prod:failed");
  assert.deepEqual(log, [
    "deploy kube:a",
    "checkHealth kube:a",
    "deploy kube:b",
    "checkHealth kube:b",
    "rollback kube:b",
    "rollback kube:a",
  ]);
  await engine.stop();
  await store.close();
});

test("a canary on a target that cannot see each version's traffic holds every step unjudged", async () => {
  const { store, digest } = await setUp("canary-unobserved", [
    { name: "prod", strategy: "canary", canary: { steps: [10, 50, 100], stepDuration: "10ms" } },
  ]);
  const target = new RecordingTarget();
  const weights: number[] = [];
  target.setCanaryWeight = async (_context: TargetContext, weight: number) => {
    weights.push(weight);
    return { observe: async () => ({ stable: null, canary: null }) };
  };
  const engine = engineOn(store, target);
  await engine.start();
  for (const version of ["1", "2"]) {
    await shipShop(engine, { shipId: version, stage: "prod", digest, version: version });
  }
  await settle(store, (s) => s.length === 2 && s.every((state) => state === "prod:succeeded"));
  assert.deepEqual(weights, [10, 50], "the first release has no stable version; the second steps up");
  const second = (await store.listRuns()).find((run) => run.version === "2");
  const canary = (await store.events({ run: second?.id ?? "" })).find(
    (event) => shortType(event) === "task.succeeded" && (event.data as { task: string }).task === "canary",
  );
  const steps = (canary?.data as { output: { steps: { weight: number; judged: boolean; reason: string }[] } })
    .output.steps;
  assert.deepEqual(
    steps.map((step) => [step.weight, step.judged]),
    [
      [10, false],
      [50, false],
    ],
  );
  assert.match(steps[0]?.reason ?? "", /cannot see each version's traffic/);
  await engine.stop();
  await store.close();
});
