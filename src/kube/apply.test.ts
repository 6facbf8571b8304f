import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { applyAndWait, fieldManager, KubeApplyError, kubeConfigForServer, objectApi } from "./apply.js";
import { renderStage, type K8sObject } from "./render.js";
import { FakeApiServer } from "./testing/fake-api-server.js";
import { imageV1, imageV2, shopSpec } from "./testing/specs.js";

const namespace = "shop-dev";
const render = (image: string, version: string): K8sObject[] =>
  renderStage(shopSpec(image), "dev", { version, image, namespace }).objects;
const fast = { timeoutMs: 5_000, pollIntervalMs: 10 };

describe("applyAndWait against the fake API server", () => {
  const server = new FakeApiServer();
  let api: ReturnType<typeof objectApi>;

  before(async () => {
    api = objectApi(kubeConfigForServer(await server.start(), server.token));
  });
  after(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    server.rejectWith = undefined;
  });

  it("applies server-side as waybill, after a dry run of every object", async () => {
    const objects = render(imageV1, "1.0.0");
    await applyAndWait(api, objects, fast);
    const dryRuns = server.applies({ dryRun: true });
    const applies = server.applies({ dryRun: false });
    assert.deepEqual(
      dryRuns.map((request) => request.path),
      ["/apis/apps/v1/namespaces/shop-dev/deployments/shop", "/api/v1/namespaces/shop-dev/services/shop"],
    );
    assert.deepEqual(
      applies.map((request) => request.path),
      dryRuns.map((request) => request.path),
    );
    for (const request of [...dryRuns, ...applies]) {
      assert.equal(request.contentType, "application/apply-patch+yaml");
      assert.equal(request.query.fieldManager, fieldManager);
      assert.equal(request.query.force, "true");
    }
    const lastDryRun = server.requests.lastIndexOf(dryRuns.at(-1)!);
    assert.ok(
      lastDryRun < server.requests.indexOf(applies[0]!),
      "every dry run comes before the first apply",
    );
    assert.equal((applies[0]?.body as K8sObject).spec !== undefined, true);
  });

  it("waits for a rollout that progresses, then becomes available", async () => {
    server.scriptRollout("shop", [
      { afterMs: 0, phase: "progressing" },
      { afterMs: 150, phase: "available" },
    ]);
    const started = Date.now();
    await applyAndWait(api, render(imageV2, "2.0.0"), fast);
    assert.ok(Date.now() - started >= 140, "it returned only once the Deployment was available");
    const live = server.get("Deployment", "shop", namespace) as { status: { observedGeneration: number } };
    assert.equal(live.status.observedGeneration, 2);
  });

  it("fails a stalled rollout with the controller's reason and re-applies the previous manifests", async () => {
    const previous = render(imageV2, "2.0.0");
    server.scriptRollout("shop", [
      { afterMs: 0, phase: "progressing" },
      { afterMs: 50, phase: "stalled" },
    ]);
    const failure = await applyAndWait(api, render(imageV1, "3.0.0-bad"), { ...fast, previous }).then(
      () => assert.fail("the rollout should fail"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof KubeApplyError);
    assert.equal(failure.reason, "rollout-failed");
    assert.equal(failure.restoredPrevious, true);
    assert.match(failure.message, /exceeded its progress deadline.*timed out progressing/);
    const lastApply = server.applies({ dryRun: false }).at(-2)?.body as K8sObject;
    assert.equal(lastApply.kind, "Deployment");
    assert.equal((lastApply.metadata.labels ?? {})["app.kubernetes.io/version"], "2.0.0");
    const live = server.get("Deployment", "shop", namespace);
    assert.equal(live?.metadata.labels?.["app.kubernetes.io/version"], "2.0.0");
  });

  it("times out a rollout that never finishes", async () => {
    server.scriptRollout("shop", [{ afterMs: 0, phase: "progressing" }]);
    const failure = await applyAndWait(api, render(imageV1, "4.0.0"), {
      timeoutMs: 200,
      pollIntervalMs: 20,
    }).then(
      () => assert.fail("the rollout should time out"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof KubeApplyError);
    assert.equal(failure.reason, "rollout-timeout");
    assert.equal(failure.restoredPrevious, false);
    assert.match(failure.message, /0 out of 1 new replicas have been updated/);
  });

  it("fails on a dry-run rejection with the API server's message and changes nothing", async () => {
    server.rejectWith = (object) =>
      object.kind === "Service"
        ? 'admission webhook "policy.example.com" denied the request: no ClusterIP'
        : undefined;
    const before = server.get("Deployment", "shop", namespace)?.metadata.labels?.[
      "app.kubernetes.io/version"
    ];
    const failure = await applyAndWait(api, render(imageV2, "5.0.0"), fast).then(
      () => assert.fail("the dry run should be rejected"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof KubeApplyError);
    assert.equal(failure.reason, "dry-run-rejected");
    assert.match(
      failure.message,
      /Service shop-dev\/shop.*admission webhook "policy.example.com" denied the request/,
    );
    assert.equal(server.applies({ dryRun: false }).length, 0);
    assert.equal(
      server.get("Deployment", "shop", namespace)?.metadata.labels?.["app.kubernetes.io/version"],
      before,
    );
  });

  it("refuses a client without the token", async () => {
    const stranger = objectApi(kubeConfigForServer(server.url, "wrong"));
    await assert.rejects(applyAndWait(stranger, render(imageV1, "6.0.0"), fast), /Unauthorized|401/);
  });
});
