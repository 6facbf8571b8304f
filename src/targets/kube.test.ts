import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubeConfigForServer } from "../kube/apply.js";
import { FakeApiServer } from "../kube/testing/fake-api-server.js";
import { digestOf, imageV1, imageV2, shopSpec } from "../kube/testing/specs.js";
import type { ArtifactRecord, ReleaseRecord, RunRecord } from "../store/store.js";
import { KubeTarget, parseKubeTargetName, runIdAnnotation } from "./kube.js";
import type { TargetContext } from "./target.js";

const artifacts = new Map<string, ArtifactRecord>(
  [imageV1, imageV2].map((image) => [
    digestOf(image),
    {
      service: "shop",
      digest: digestOf(image),
      version: image === imageV1 ? "1.0.0" : "2.0.0",
      path: image,
      mountPath: ".",
      spec: shopSpec(image),
      createdAt: "2025-01-01T00:00:00Z",
    },
  ]),
);

function contextFor(
  stageName: string,
  image: string,
  runId: string,
  previous?: ReleaseRecord,
): TargetContext {
  const artifact = artifacts.get(digestOf(image))!;
  const spec = shopSpec(image);
  const run = {
    id: runId,
    service: "shop",
    stage: stageName,
    digest: artifact.digest,
    version: artifact.version,
  } as RunRecord;
  return {
    run,
    spec,
    stage: spec.stages.find((stage) => stage.name === stageName)!,
    artifact,
    previous,
    recommendation: null,
    signal: AbortSignal.timeout(20_000),
  };
}

function releaseOf(context: TargetContext): ReleaseRecord {
  return {
    service: "shop",
    stage: context.run.stage,
    target: "kube:fake",
    digest: context.artifact.digest,
    version: context.run.version,
    runId: context.run.id,
    releasedAt: "2025-01-01T00:00:00Z",
    replacedAt: null,
  };
}

describe("KubeTarget against the fake API server", () => {
  const server = new FakeApiServer();
  const targets = new Map<string, KubeTarget>();
  const target = (namespace: string) => {
    const name = `kube:fake/${namespace}`;
    if (!targets.has(name)) {
      targets.set(
        name,
        new KubeTarget(name, {
          artifacts: { getArtifact: async (_service, digest) => artifacts.get(digest) },
          kubeConfig: () => kubeConfigForServer(server.url, server.token),
          rolloutTimeoutMs: 5_000,
          pollIntervalMs: 10,
        }),
      );
    }
    return targets.get(name)!;
  };
  const image = (kind: string, name: string, namespace: string) =>
    (server.get(kind, name, namespace)?.spec as { template: { spec: { containers: { image: string }[] } } })
      .template.spec.containers[0]?.image;
  const replicas = (name: string, namespace: string) =>
    (server.get("Deployment", name, namespace)?.spec as { replicas: number } | undefined)?.replicas;
  const selectedSlot = (name: string, namespace: string) =>
    (server.get("Service", name, namespace)?.spec as { selector: Record<string, string> }).selector[
      "waybill.dev/slot"
    ];

  before(() => server.start());
  after(() => server.close());

  it("parses its name", () => {
    assert.deepEqual(parseKubeTargetName("kube:prod-eu/shop"), { context: "prod-eu", namespace: "shop" });
    assert.deepEqual(parseKubeTargetName("kube:kind-waybill"), {
      context: "kind-waybill",
      namespace: undefined,
    });
    assert.throws(() => parseKubeTargetName("local"), /not a kube/);
  });

  it("resources: auto deploys the recorded recommendation, and refuses a build that has none", async () => {
    const kube = target("shop-auto");
    const plain = contextFor("dev", imageV1, "run-auto");
    const auto = { ...plain, spec: { ...plain.spec, resources: { cpu: "auto", memory: "auto" } } };
    await assert.rejects(
      kube.deploy({ ...auto, recommendation: null }),
      /resources say auto, and no rightsizing recommendation is recorded for shop .*waybill rightsize shop/,
    );
    assert.equal(server.get("Deployment", "shop", "shop-auto"), undefined, "nothing was applied");
    await kube.deploy({ ...auto, recommendation: { cpu: "250m", memory: "96Mi" } });
    const container = (
      server.get("Deployment", "shop", "shop-auto")?.spec as {
        template: { spec: { containers: { resources: { limits: Record<string, string> } }[] } };
      }
    ).template.spec.containers[0];
    assert.deepEqual(container?.resources.limits, { cpu: "250m", memory: "96Mi" });
  });

  it("refuses rightsizing: pods cannot be measured from outside the cluster", async () => {
    await assert.rejects(target("shop-dev").sizingLab(), /rightsizing runs on a local stage/);
  });

  it("direct: deploy makes the version live, release keeps it, rollback restores the previous", async () => {
    const kube = target("shop-dev");
    const first = contextFor("dev", imageV1, "run-1");
    await kube.deploy(first);
    await kube.checkHealth(first);
    await kube.release(first);
    assert.equal(image("Deployment", "shop", "shop-dev"), imageV1);

    const second = contextFor("dev", imageV2, "run-2", releaseOf(first));
    await kube.deploy(second);
    assert.equal(image("Deployment", "shop", "shop-dev"), imageV2);
    await kube.rollback(second);
    assert.equal(image("Deployment", "shop", "shop-dev"), imageV1);
    assert.ok(server.get("Service", "shop", "shop-dev"), "the Service stays");
  });

  it("direct: a first release with nothing before it is removed by rollback", async () => {
    const kube = target("shop-fresh");
    // The dev stage's namespace comes from the target name, not the stage, so reuse dev.
    const first = contextFor("dev", imageV1, "run-fresh");
    await kube.deploy(first);
    assert.equal(image("Deployment", "shop", "shop-fresh"), imageV1);
    await kube.rollback(first);
    assert.equal(server.get("Deployment", "shop", "shop-fresh"), undefined);
    assert.equal(server.get("Service", "shop", "shop-fresh"), undefined);
  });

  it("blue-green: deploy fills the idle slot, release switches the Service and scales the old slot to 0", async () => {
    const kube = target("shop-staging");
    const first = contextFor("staging", imageV1, "bg-1");
    await kube.deploy(first);
    await kube.release(first);
    assert.equal(selectedSlot("shop", "shop-staging"), "blue");
    assert.equal(image("Deployment", "shop-blue", "shop-staging"), imageV1);

    const second = contextFor("staging", imageV2, "bg-2", releaseOf(first));
    await kube.deploy(second);
    await kube.deploy(second); // a retried task lands in the same slot
    assert.equal(image("Deployment", "shop-green", "shop-staging"), imageV2);
    assert.equal(
      server.get("Deployment", "shop-green", "shop-staging")?.metadata.annotations?.[runIdAnnotation],
      "bg-2",
    );
    assert.equal(selectedSlot("shop", "shop-staging"), "blue", "users still reach the old slot");
    assert.equal(selectedSlot("shop-preview", "shop-staging"), "green");
    await kube.checkHealth(second);

    await kube.release(second);
    await kube.release(second);
    assert.equal(selectedSlot("shop", "shop-staging"), "green");
    assert.equal(replicas("shop-blue", "shop-staging"), 0);
    assert.equal(replicas("shop-green", "shop-staging"), 1);
  });

  it("blue-green: rollback after release points the Service back and removes the new slot", async () => {
    const kube = target("shop-staging");
    const first = contextFor("staging", imageV1, "bg-1");
    const second = contextFor("staging", imageV2, "bg-2", releaseOf(first));
    await kube.rollback(second);
    assert.equal(selectedSlot("shop", "shop-staging"), "blue");
    assert.equal(replicas("shop-blue", "shop-staging"), 1);
    assert.equal(image("Deployment", "shop-blue", "shop-staging"), imageV1);
    assert.equal(server.get("Deployment", "shop-green", "shop-staging"), undefined);
  });

  it("blue-green: a stalled new slot fails the deploy and leaves users on the old slot", async () => {
    const kube = target("shop-staging");
    const first = contextFor("staging", imageV1, "bg-1");
    const third = contextFor("staging", imageV2, "bg-3", releaseOf(first));
    server.scriptRollout("shop-green", [{ afterMs: 0, phase: "stalled" }]);
    await assert.rejects(kube.deploy(third), /ProgressDeadlineExceeded|progress deadline/);
    assert.equal(selectedSlot("shop", "shop-staging"), "blue");
    await kube.rollback(third);
    assert.equal(server.get("Deployment", "shop-green", "shop-staging"), undefined);
  });

  it("canary: deploy runs the canary at the first step, release promotes it", async () => {
    const kube = target("shop-prod");
    const first = contextFor("prod", imageV1, "c-1");
    await kube.deploy(first);
    await kube.release(first);
    const second = contextFor("prod", imageV2, "c-2", releaseOf(first));
    await kube.deploy(second);
    assert.equal(image("Deployment", "shop-canary", "shop-prod"), imageV2);
    assert.equal(image("Deployment", "shop-stable", "shop-prod"), imageV1);
    assert.equal(replicas("shop-canary", "shop-prod"), 1, "10% of 4 replicas");
    const traffic = await kube.setCanaryWeight(second, 50);
    assert.equal(replicas("shop-canary", "shop-prod"), 2);
    assert.deepEqual(await traffic.observe(), { stable: null, canary: null });
    await kube.release(second);
    assert.equal(image("Deployment", "shop-stable", "shop-prod"), imageV2);
    assert.equal(replicas("shop-canary", "shop-prod"), 0);
  });

  describe("with gitops", () => {
    let repo: string;
    const gitLog = () =>
      execFileSync("git", ["-C", repo, "log", "--format=%s"], { encoding: "utf8" }).trim().split("\n");
    const gitopsTarget = (namespace: string) =>
      new KubeTarget(`kube:fake/${namespace}`, {
        artifacts: { getArtifact: async (_service, digest) => artifacts.get(digest) },
        kubeConfig: () => kubeConfigForServer(server.url, server.token),
        gitIdentity: { name: "Waybill Test", email: "waybill-test@example.invalid" },
        rolloutTimeoutMs: 5_000,
        pollIntervalMs: 10,
      });
    const withGitops = (context: TargetContext, apply: boolean): TargetContext => ({
      ...context,
      stage: { ...context.stage, gitops: { repo, path: "shop", branch: "main", apply } },
    });

    before(() => {
      repo = mkdtempSync(join(tmpdir(), "waybill-kube-gitops-"));
      execFileSync("git", ["-C", repo, "init", "--quiet", "-b", "main"]);
      execFileSync("git", [
        ...["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-C", repo],
        ...["commit", "--quiet", "--allow-empty", "-m", "initial"],
      ]);
    });
    after(() => rmSync(repo, { recursive: true, force: true }));

    it("apply: false commits the release once and leaves the cluster alone", async () => {
      const kube = gitopsTarget("shop-gitops");
      const context = withGitops(contextFor("dev", imageV1, "git-1"), false);
      const appliesBefore = server.applies({ dryRun: false }).length;
      await kube.deploy(context);
      await kube.checkHealth(context);
      assert.deepEqual(gitLog(), ["initial"], "nothing is committed before release");
      await kube.release(context);
      assert.equal(server.applies({ dryRun: false }).length, appliesBefore);
      assert.match(
        readFileSync(join(repo, "shop", "dev.yaml"), "utf8"),
        /image: registry.example.com\/shop@sha256:1{64}/,
      );
      assert.deepEqual(gitLog(), [`waybill: dev → ${digestOf(imageV1)}`, "initial"]);
    });

    it("blue-green with apply: true leaves one commit per run: the switched Service, applied after", async () => {
      const kube = gitopsTarget("shop-gitops-bg");
      const first = withGitops(contextFor("staging", imageV1, "git-bg-1"), true);
      await kube.deploy(first);
      await kube.checkHealth(first);
      await kube.release(first);
      const second = withGitops(contextFor("staging", imageV2, "git-bg-2", releaseOf(first)), true);
      await kube.deploy(second);
      await kube.checkHealth(second);
      const commits = gitLog().length;
      await kube.release(second);
      assert.equal(gitLog().length, commits + 1, "the new slot was applied, not committed");
      assert.deepEqual(gitLog().slice(0, 2), [
        `waybill: staging → ${digestOf(imageV2)}`,
        `waybill: staging → ${digestOf(imageV1)}`,
      ]);
      const committed = readFileSync(join(repo, "shop", "staging.yaml"), "utf8");
      assert.match(committed, /name: shop-green[\s\S]*image: registry.example.com\/shop@sha256:2{64}/);
      assert.equal(selectedSlot("shop", "shop-gitops-bg"), "green", "and what was committed is live");
    });

    it("a run that fails after committing its release has the commit taken back", async () => {
      const kube = gitopsTarget("shop-gitops-fail");
      const context = withGitops(contextFor("dev", imageV1, "git-fail-1"), true);
      await kube.deploy(context);
      await kube.release(context);
      assert.match(readFileSync(join(repo, "shop", "dev.yaml"), "utf8"), /namespace: shop-gitops-fail/);
      await kube.rollback(context);
      const [latest] = gitLog();
      assert.equal(latest, "waybill: revert dev run git-fail-1");
      assert.match(
        readFileSync(join(repo, "shop", "dev.yaml"), "utf8"),
        /sha256:1{64}/,
        "dev.yaml as before the run",
      );
      assert.equal(
        server.get("Deployment", "shop", "shop-gitops-fail"),
        undefined,
        "and the cluster as before",
      );
    });
  });

  it("measures nothing and needs the stage's testUrl for load", async () => {
    const kube = target("shop-dev");
    const context = contextFor("dev", imageV1, "run-1");
    assert.deepEqual(await (await kube.startMeasurement(context)).stop(), {
      process: null,
      baselineProcess: null,
      latencySamplesMs: [],
    });
    assert.equal(kube.baselineEndpoint(), undefined, "the gate compares with history on a cluster");
    assert.equal(kube.url(), undefined);
    assert.throws(() => kube.testEndpoint(context), /set testUrl on stage dev/);
  });

  it("sends load to the stage's testUrl, or to the one given for this target", () => {
    const kube = target("shop-dev");
    const context = contextFor("dev", imageV1, "run-1");
    const url = "http://shop-dev.example.test/";
    assert.deepEqual(kube.testEndpoint({ ...context, stage: { ...context.stage, testUrl: url } }), {
      url,
      headers: {},
    });
    const perTarget = { [kube.name]: url, "kube:other/shop": "http://other.example.test/" };
    assert.equal(kube.testEndpoint({ ...context, stage: { ...context.stage, testUrl: perTarget } }).url, url);
  });
});
