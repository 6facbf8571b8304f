import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { applyAndWait, kubeConfigForServer, objectApi } from "./apply.js";
import { renderStage } from "./render.js";
import { rolloutInOrder } from "./sequence.js";
import { FakeApiServer } from "./testing/fake-api-server.js";
import { imageV1, imageV2, shopSpec } from "./testing/specs.js";

const render = (image: string, version: string) =>
  renderStage(shopSpec(image), "dev", { version, image, namespace: "shop" }).objects;
const wait = { timeoutMs: 5_000, pollIntervalMs: 10 };
const liveVersion = (server: FakeApiServer) =>
  server.get("Deployment", "shop", "shop")?.metadata.labels?.["app.kubernetes.io/version"];

describe("rolloutInOrder over three clusters", () => {
  const clusters = ["eu", "us", "ap"].map((name) => ({ name, server: new FakeApiServer() }));
  const apiOf = new Map<string, ReturnType<typeof objectApi>>();

  before(async () => {
    for (const cluster of clusters) {
      apiOf.set(
        cluster.name,
        objectApi(kubeConfigForServer(await cluster.server.start(), cluster.server.token)),
      );
      await applyAndWait(apiOf.get(cluster.name)!, render(imageV1, "1.0.0"), wait);
    }
  });
  after(() => Promise.all(clusters.map((cluster) => cluster.server.close())));

  it("stops at the failing cluster and rolls back the ones done, newest first", async () => {
    clusters[1]!.server.scriptRollout("shop", [{ afterMs: 0, phase: "stalled" }]);
    const order: string[] = [];
    const result = await rolloutInOrder(
      clusters,
      async (cluster) => {
        order.push(`deploy ${cluster.name}`);
        await applyAndWait(apiOf.get(cluster.name)!, render(imageV2, "2.0.0"), {
          ...wait,
          previous: render(imageV1, "1.0.0"),
        });
      },
      async (cluster) => {
        order.push(`rollback ${cluster.name}`);
        await applyAndWait(apiOf.get(cluster.name)!, render(imageV1, "1.0.0"), wait);
      },
    );
    assert.equal(result.state, "failed");
    assert.equal(result.state === "failed" && result.failed.name, "us");
    assert.match(
      String(result.state === "failed" && result.error),
      /ProgressDeadlineExceeded|progress deadline/,
    );
    assert.deepEqual(order, ["deploy eu", "deploy us", "rollback eu"]);
    assert.deepEqual(
      clusters.map((cluster) => liveVersion(cluster.server)),
      ["1.0.0", "1.0.0", "1.0.0"],
      "eu rolled back, us restored by its own deploy, ap never touched",
    );
    assert.equal(clusters[2]!.server.applies({ dryRun: false }).length, 2, "ap saw only the initial release");
  });

  it("deploys to every cluster in order when all succeed", async () => {
    const order: string[] = [];
    const result = await rolloutInOrder(
      clusters,
      async (cluster) => {
        order.push(cluster.name);
        await applyAndWait(apiOf.get(cluster.name)!, render(imageV2, "2.0.0"), wait);
      },
      () => Promise.reject(new Error("no rollback expected")),
    );
    assert.deepEqual(result, { state: "done", deployed: clusters });
    assert.deepEqual(order, ["eu", "us", "ap"]);
  });

  it("reports a rollback that fails as well", async () => {
    const result = await rolloutInOrder(
      ["a", "b", "c"],
      (name) => (name === "c" ? Promise.reject(new Error("c is down")) : Promise.resolve()),
      (name) => (name === "a" ? Promise.reject(new Error("a unreachable")) : Promise.resolve()),
    );
    assert.equal(result.state, "failed");
    if (result.state !== "failed") return;
    assert.deepEqual(result.rolledBack, ["b"]);
    assert.deepEqual(
      result.rollbackErrors.map((entry) => entry.target),
      ["a"],
    );
  });
});
