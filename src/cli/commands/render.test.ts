import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { UserError } from "../../errors.js";
import { runCommand } from "../../testing/cli.js";
import { repoRoot } from "../../testing/paths.js";
import { renderCommand } from "./render.js";

const hello = join(repoRoot, "examples", "hello");
const digest = `sha256:${"ab".repeat(32)}`;
const image = `registry.example.com/hello@${digest}`;

async function render(args: string[], options: Record<string, unknown>) {
  return runCommand(renderCommand, args, options);
}

interface Rendered {
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
}

function documents(yaml: string): Rendered[] {
  return parseAllDocuments(yaml).map((document) => document.toJS() as Rendered);
}

describe("waybill render", () => {
  const dir = mkdtempSync(join(tmpdir(), "waybill-render-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the stage's manifests, labelled with the digest's first 12 hex digits by default", async () => {
    const { exitCode, stdout } = await render(["dev"], { file: hello, image });
    assert.equal(exitCode, 0);
    const objects = documents(stdout);
    assert.deepEqual(
      objects.map((object) => `${object.kind}/${object.metadata.name}`),
      ["Deployment/hello", "Service/hello"],
    );
    assert.equal(objects[0]?.metadata.labels["app.kubernetes.io/version"], "abababababab");
  });

  it("writes <out>/<stage>.yaml", async () => {
    const out = join(dir, "manifests");
    const { exitCode, stdout } = await render(["staging"], { file: hello, image, version: "2.0.0", out });
    assert.equal(exitCode, 0);
    assert.match(
      stdout,
      /^wrote .*staging\.yaml \(Deployment\/hello-blue, Service\/hello, Service\/hello-preview\)\n$/,
    );
    assert.equal(documents(readFileSync(join(out, "staging.yaml"), "utf8")).length, 3);
  });

  it("renders the image the last build pushed, as ship would deploy it", async () => {
    const service = join(dir, "hello-kube");
    cpSync(join(repoRoot, "examples", "hello-kube"), service, { recursive: true });
    writeFileSync(join(service, "image.json"), JSON.stringify({ "containerimage.digest": digest }));
    const { exitCode, stdout } = await render(["dev"], { file: service });
    assert.equal(exitCode, 0);
    assert.match(stdout, new RegExp(`image: localhost:5001/hello@${digest}\n`));
    rmSync(join(service, "image.json"));
    await assert.rejects(
      render(["dev"], { file: service }),
      (error: unknown) =>
        error instanceof UserError && /or give --image repository@sha256/.test(error.message),
    );
  });

  it("takes the namespace and image from waybill.yaml", async () => {
    const file = join(dir, "waybill.yaml");
    writeFileSync(
      file,
      [
        "metadata: {name: cart}",
        `run: {image: "${image}", port: 9000}`,
        "stages:",
        "  - {name: production, targets: ['kube:prod-eu/shop'], strategy: canary, traffic: gateway-api}",
        "",
      ].join("\n"),
    );
    const { stdout } = await render(["production"], {
      file,
      canaryWeight: "20",
      gateway: "gateways/public",
      previousImage: `registry.example.com/hello@sha256:${"cd".repeat(32)}`,
    });
    const objects = documents(stdout);
    assert.ok(objects.every((object) => object.metadata.namespace === "shop"));
    assert.deepEqual(
      objects.map((object) => object.kind),
      ["Deployment", "Deployment", "Service", "Service", "Service", "HTTPRoute"],
    );
    assert.match(stdout, /parentRefs:\n {4}- name: public\n {6}namespace: gateways\n/);
  });

  const refusals: [string, string[], Record<string, unknown>, RegExp][] = [
    ["an image without a digest", ["dev"], { file: hello, image: "hello:latest" }, /has no digest/],
    ["no image", ["dev"], { file: hello }, /no image to render/],
    ["a bad slot", ["staging"], { file: hello, image, slot: "red" }, /expected blue or green/],
    ["a bad weight", ["dev"], { file: hello, image, canaryWeight: "ten" }, /--canary-weight/],
    [
      "a weight for a stage that is not a canary",
      ["dev"],
      { file: hello, image, canaryWeight: "10" },
      /for canary stages/,
    ],
    [
      "--previous-version alone",
      ["dev"],
      { file: hello, image, previousVersion: "1" },
      /needs --previous-image/,
    ],
    ["an unknown stage", ["qa"], { file: hello, image }, /no stage "qa"/],
    ["a bad gateway", ["dev"], { file: hello, image, gateway: "a/b/c" }, /expected \[namespace\/\]name/],
  ];
  for (const [what, args, options, message] of refusals) {
    it(`refuses ${what} (exit 2)`, () =>
      assert.rejects(
        render(args, options),
        (error: unknown) => error instanceof UserError && error.exitCode === 2 && message.test(error.message),
      ));
  }
});
