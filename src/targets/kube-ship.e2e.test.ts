/**
 * `waybill ship` of examples/hello-kube through the real CLI and a real control plane, to a
 * cluster that is the TEST DOUBLE API server (no Kubernetes API server can run here), reached
 * through a kubeconfig file as a user's would be. There is no registry or Docker either, so
 * the build plays the push: it writes the buildx metadata file a real `docker buildx build
 * --push --metadata-file` leaves, with the digest of the "pushed" image. The stage URL the
 * load test goes to is a small HTTP server standing in for an Ingress.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FakeApiServer } from "../kube/testing/fake-api-server.js";
import { cleanUp, runCli, scratchExample } from "../testing/cli.js";
import type { RunView, StatusView } from "../cli/views.js";

const scratch = scratchExample("hello-kube");
const api = new FakeApiServer();
const kubeconfig = join(scratch.root, "kubeconfig.yaml");
let ingress: Server;
let ingressHits = 0;

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root, env: { KUBECONFIG: kubeconfig, ...env } });

const digestOf = (label: string) => `sha256:${label.repeat(64)}`;

/** The build a registry push would have been: the metadata file names the pushed digest. */
function playPushInBuild(): void {
  const file = join(scratch.serviceDir, "waybill.yaml");
  const spec = readFileSync(file, "utf8")
    .replace(
      /^ {2}command: >-\n( {4}.*\n)+/m,
      `  command: >-\n    printf '{"containerimage.digest":"%s"}' "$PUSHED_DIGEST" > image.json\n`,
    )
    .replace(/^( {4}target: kube:.*\n)/gm, `$1    testUrl: ${ingressUrl()}\n`)
    .replace(/^stages:/m, "test:\n  load: { rate: 20, duration: 1s, requests: [{ path: / }] }\nstages:");
  writeFileSync(file, spec);
}

function ingressUrl(): string {
  return `http://127.0.0.1:${(ingress.address() as AddressInfo).port}/`;
}

function writeKubeconfig(server: string, token: string): void {
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      `- name: fake\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true`,
      "users:",
      `- name: fake\n  user:\n    token: ${token}`,
      "contexts:",
      "- name: kind-waybill\n  context:\n    cluster: fake\n    user: fake",
      "current-context: kind-waybill",
      "",
    ].join("\n"),
  );
}

async function status(): Promise<StatusView> {
  const result = await cli(["status", "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as StatusView;
}

async function untilProductionIs(state: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const production = (await status()).services[0]?.stages.find((stage) => stage.name === "production");
    if (production?.state === state) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`production never became ${state}`);
}

function imageOf(name: string, namespace: string): string | undefined {
  const spec = api.get("Deployment", name, namespace)?.spec as
    { template: { spec: { containers: { image: string }[] } } } | undefined;
  return spec?.template.spec.containers[0]?.image;
}

function activeSlot(): string | undefined {
  return (api.get("Service", "hello", "hello")?.spec as { selector: Record<string, string> } | undefined)
    ?.selector["waybill.dev/slot"];
}

describe("shipping examples/hello-kube to a cluster", { timeout: 300_000 }, () => {
  before(async () => {
    ingress = createServer((_request, response) => {
      ingressHits++;
      response.end("hello\n");
    });
    await new Promise<void>((resolve) => ingress.listen(0, "127.0.0.1", resolve));
    writeKubeconfig(await api.start(), api.token);
    playPushInBuild();
  });
  after(async () => {
    await cli(["down"]);
    await api.close();
    ingress.close();
    cleanUp(scratch.root);
  });

  test("ships the pushed image through dev and waits for approval at production", async () => {
    const result = await cli(["ship", "hello-kube", "--version", "1.0.0"], { PUSHED_DIGEST: digestOf("1") });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`artifact localhost:5001/hello@${digestOf("1")}`));
    assert.match(result.stdout, /\[dev\] 1\.0\.0 released/);
    assert.match(result.stdout, /waiting for approval: waybill approve r-/);
    assert.equal(imageOf("hello", "hello-dev"), `localhost:5001/hello@${digestOf("1")}`);
    const applied = api.applies({ dryRun: false }).map((request) => request.query.fieldManager);
    assert.ok(applied.length > 0 && applied.every((manager) => manager === "waybill"));
    assert.ok(ingressHits >= 10, `the load tests reached the stages' testUrl (${ingressHits} requests)`);
    assert.equal(
      imageOf("hello-blue", "hello"),
      `localhost:5001/hello@${digestOf("1")}`,
      "production is deployed",
    );
  });

  test("approve switches production's Service, and status shows the version per target", async () => {
    const runs = JSON.parse((await cli(["runs", "hello", "--json"])).stdout) as { runs: RunView[] };
    const waiting = runs.runs.find((run) => run.state === "waiting-approval");
    assert.ok(waiting, "a run waits for approval");
    assert.equal((await cli(["approve", waiting.id])).code, 0);
    await untilProductionIs("released");
    assert.equal(activeSlot(), "blue");
    const production = (await status()).services[0]?.stages.find((stage) => stage.name === "production");
    assert.deepEqual(
      production?.targets.map((target) => [target.name, target.version, target.digest]),
      [["kube:kind-waybill/hello", "1.0.0", digestOf("1")]],
    );
    const table = await cli(["status"]);
    assert.match(table.stdout, /^ {2}kube:kind-waybill\/hello +1\.0\.0$/m);
  });

  test("a second build goes to the other slot, and rollback points the Service back", async () => {
    const shipped = await cli(["ship", "hello-kube", "--version", "2.0.0"], { PUSHED_DIGEST: digestOf("2") });
    assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
    assert.equal(imageOf("hello-green", "hello"), `localhost:5001/hello@${digestOf("2")}`);
    assert.equal(activeSlot(), "blue", "the Service still points at 1.0.0 while 2.0.0 waits for approval");
    const runs = JSON.parse((await cli(["runs", "hello", "--json"])).stdout) as { runs: RunView[] };
    const waiting = runs.runs.find((run) => run.state === "waiting-approval");
    assert.ok(waiting);
    assert.equal((await cli(["approve", waiting.id])).code, 0);
    for (let i = 0; i < 150 && activeSlot() !== "green"; i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(activeSlot(), "green");

    const rolledBack = await cli(["rollback", "hello", "production"]);
    assert.equal(rolledBack.code, 0, rolledBack.stdout + rolledBack.stderr);
    assert.equal(activeSlot(), "blue");
    assert.equal(imageOf("hello-blue", "hello"), `localhost:5001/hello@${digestOf("1")}`);
  });

  test("a build that pushed nothing is refused before anything is recorded", async () => {
    const result = await cli(["ship", "hello-kube"], { PUSHED_DIGEST: "not-a-digest" });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /holds no image digest/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  });
});
