import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ContentStore } from "./content-store.js";
import { artifactDigest } from "./digest.js";

const root = mkdtempSync(join(tmpdir(), "waybill-cas-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("keeps the shipped bytes under their digest, whatever happens to the working tree", async () => {
  const source = join(root, "src");
  mkdirSync(join(source, "lib"), { recursive: true });
  writeFileSync(join(source, "lib", "app.js"), "v1");
  const digest = await artifactDigest(source);
  const store = new ContentStore(join(root, "cas"));
  const path = await store.put(source, digest);
  assert.equal(path, join(root, "cas", "sha256", digest.slice("sha256:".length)));
  writeFileSync(join(source, "lib", "app.js"), "v2");
  assert.equal(readFileSync(join(path, "lib", "app.js"), "utf8"), "v1");
  assert.equal(await artifactDigest(path), digest);
  assert.equal(await store.put(source, digest), path, "a digest already stored is not copied again");
});

test("refuses a copy whose digest is not the one announced, and leaves nothing behind", async () => {
  const source = join(root, "moving");
  mkdirSync(source, { recursive: true });
  writeFileSync(join(source, "a.txt"), "a");
  const store = new ContentStore(join(root, "cas2"));
  const wrong = `sha256:${"0".repeat(64)}`;
  await assert.rejects(store.put(source, wrong), /changed while it was being recorded/);
  assert.equal(await store.has(wrong), false);
  assert.deepEqual(readdirSync(join(root, "cas2", "staging")), []);
});

test("a digest that is not sha256 hex is a user error", () => {
  assert.throws(() => new ContentStore(root).pathFor("md5:abc"), /not a sha256 digest/);
});
