/**
 * The engine rolling a release out to three clusters in order, each a test double of the
 * Kubernetes API server with scripted rollouts: the second stalls with ProgressDeadlineExceeded,
 * so the rollout stops there, the first cluster is rolled back, and the third is never touched.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Engine } from "../engine/engine.js";
import { builtinTasks } from "../engine/tasks/index.js";
import { EvidenceService } from "../evidence/evidence-service.js";
import { kubeConfigForServer } from "../kube/apply.js";
import { FakeApiServer } from "../kube/testing/fake-api-server.js";
import { digestOf, imageV1 } from "../kube/testing/specs.js";
import { serviceSpecSchema } from "../spec/schema.js";
import { newEvent } from "../store/events.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import { KubeTarget } from "./kube.js";

const root = mkdtempSync(join(tmpdir(), "waybill-clusters-"));
const servers = new Map(["eu", "us", "ap"].map((name) => [`kube:${name}/shop`, new FakeApiServer()]));
after(async () => {
  for (const server of servers.values()) await server.close();
  rmSync(root, { recursive: true, force: true });
});

test(
  "three clusters in order: a stalled rollout on the second stops there and rolls the first back",
  { timeout: 60_000 },
  async () => {
    for (const server of servers.values()) await server.start();
    servers.get("kube:us/shop")?.scriptRollout("shop", [
      { afterMs: 0, phase: "progressing" },
      { afterMs: 50, phase: "stalled" },
    ]);
    const store = await openSqliteStore(join(root, "waybill.db"));
    const spec = serviceSpecSchema.parse({
      metadata: { name: "shop" },
      run: { image: imageV1, port: 8080, health: "/healthz" },
      stages: [{ name: "prod", targets: [...servers.keys()], test: false, gate: false }],
    });
    const digest = digestOf(imageV1);
    await store.append([
      newEvent("artifact.recorded", "artifacts/shop", {
        service: "shop",
        digest,
        version: "1.0.0",
        path: imageV1,
        mountPath: ".",
        spec,
      }),
    ]);
    const targets = new Map(
      [...servers].map(([name, server]) => [
        name,
        new KubeTarget(name, {
          artifacts: store,
          kubeConfig: () => kubeConfigForServer(server.url, server.token),
          rolloutTimeoutMs: 5_000,
          pollIntervalMs: 10,
        }),
      ]),
    );
    const engine = new Engine({
      store,
      evidence: EvidenceService.open(join(root, "state")),
      tasks: builtinTasks(),
      targets: {
        resolve: (name) => {
          const target = targets.get(name);
          if (target === undefined) throw new Error(`no target ${name}`);
          return target;
        },
      },
      log: () => undefined,
    });
    await engine.start();
    const run = await engine.enqueue({
      shipId: "s",
      kind: "ship",
      service: "shop",
      stage: "prod",
      digest,
      version: "1.0.0",
    });
    for (let i = 0; i < 500 && (await store.getRun(run.id))?.state !== "failed"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const finished = await store.getRun(run.id);
    assert.equal(finished?.state, "failed");
    assert.match(
      finished?.reason ?? "",
      /^deploy kube:us\/shop: deployment "shop" exceeded its progress deadline/,
    );

    const eu = servers.get("kube:eu/shop");
    assert.ok((eu?.applies({ dryRun: false }).length ?? 0) > 0, "eu was rolled out first");
    assert.equal(
      eu?.get("Deployment", "shop", "shop"),
      undefined,
      "and rolled back: a first release is removed",
    );
    assert.equal(servers.get("kube:ap/shop")?.requests.length, 0, "ap was never touched");
    assert.deepEqual(await store.currentReleases("shop", "prod"), []);
    await engine.stop();
    await store.close();
  },
);
