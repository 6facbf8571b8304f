import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UserError } from "../errors.js";
import { digestFromBuildOutput, imageArtifact } from "./image.js";

const hex = "ab".repeat(32);
const digest = `sha256:${hex}`;
const repository = "registry.example.com/shop";

describe("reading the pushed image's digest from what the build wrote", () => {
  const vectors: { name: string; content: string; expected: string | undefined }[] = [
    {
      name: "a bare digest (podman push --digestfile)",
      content: `${digest}\n`,
      expected: `${repository}@${digest}`,
    },
    {
      name: "a pinned reference (ko build --image-refs)",
      content: `ghcr.io/acme/shop:1.2@${digest}\n`,
      expected: `ghcr.io/acme/shop:1.2@${digest}`,
    },
    {
      name: "docker buildx --metadata-file JSON",
      content: JSON.stringify({ "containerimage.digest": digest, "image.name": repository }),
      expected: `${repository}@${digest}`,
    },
    { name: "a tag only", content: `${repository}:1.2\n`, expected: undefined },
    { name: "a short digest", content: "sha256:abc\n", expected: undefined },
    { name: "JSON without a digest", content: '{"image.name":"x"}', expected: undefined },
    { name: "broken JSON", content: "{not json", expected: undefined },
    { name: "an empty file", content: "", expected: undefined },
  ];
  for (const vector of vectors) {
    it(`${vector.expected === undefined ? "finds nothing in" : "reads"} ${vector.name}`, () => {
      const found = digestFromBuildOutput(vector.content, repository);
      assert.equal(found?.image, vector.expected);
      if (found !== undefined) assert.equal(found.digest, digest);
    });
  }
});

describe("the image a Kubernetes ship carries", () => {
  const dir = mkdtempSync(join(tmpdir(), "waybill-image-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("takes a pinned run.image as it is", () => {
    const image = `${repository}@${digest}`;
    assert.deepEqual(imageArtifact({ run: { image }, build: { artifact: "." } }, dir), { image, digest });
  });

  it("pins build.image to the digest the build wrote to build.artifact", () => {
    writeFileSync(join(dir, "image.digest"), `${digest}\n`);
    assert.deepEqual(
      imageArtifact({ run: {}, build: { image: `${repository}:dev`, artifact: "image.digest" } }, dir),
      { image: `${repository}:dev@${digest}`, digest },
    );
  });

  it("refuses a run.image without a digest, since a tag can move", () => {
    assert.throws(
      () => imageArtifact({ run: { image: `${repository}:latest` }, build: { artifact: "." } }, dir),
      (error: unknown) => error instanceof UserError && /has no digest/.test(error.message),
    );
  });

  it("refuses a build.image without a digest when build.artifact is a folder", () => {
    mkdirSync(join(dir, "dist"), { recursive: true });
    assert.throws(
      () => imageArtifact({ run: {}, build: { image: repository, artifact: "dist" } }, dir),
      (error: unknown) => error instanceof UserError && /--digestfile/.test(error.message),
    );
  });

  it("refuses a build output that holds no digest", () => {
    writeFileSync(join(dir, "image.txt"), "pushed!\n");
    assert.throws(
      () => imageArtifact({ run: {}, build: { image: repository, artifact: "image.txt" } }, dir),
      (error: unknown) => error instanceof UserError && /holds no image digest/.test(error.message),
    );
  });
});
