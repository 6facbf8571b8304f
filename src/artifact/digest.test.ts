import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { artifactDigest, listArtifactEntries } from "./digest.js";

const root = mkdtempSync(join(tmpdir(), "waybill-digest-"));
after(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

test("the digest is sha256 over sorted lines of mode, content hash and path", async () => {
  const dir = tree("vector", { "b.txt": "bee", "a/z.js": "zed" });
  chmodSync(join(dir, "b.txt"), 0o755);
  const expected = `sha256:${sha(`100644 ${sha("zed")} a/z.js\n100755 ${sha("bee")} b.txt\n`)}`;
  assert.equal(await artifactDigest(dir), expected);
});

test("the same files give the same digest wherever they are, whatever the write order", async () => {
  const one = tree("one", { "x.txt": "1", "y/z.txt": "2" });
  const two = tree("two", { "y/z.txt": "2", "x.txt": "1" });
  assert.equal(await artifactDigest(one), await artifactDigest(two));
});

test("a changed byte, a renamed file or a new executable bit changes the digest", async () => {
  const base = await artifactDigest(tree("base", { "x.txt": "1" }));
  assert.notEqual(await artifactDigest(tree("byte", { "x.txt": "2" })), base);
  assert.notEqual(await artifactDigest(tree("name", { "w.txt": "1" })), base);
  const exec = tree("exec", { "x.txt": "1" });
  chmodSync(join(exec, "x.txt"), 0o700);
  assert.notEqual(await artifactDigest(exec), base);
});

test("symlinks count by their target, and .git and .waybill are left out", async () => {
  const dir = tree("links", { "real.txt": "r", ".git/HEAD": "ref", ".waybill/token": "t" });
  symlinkSync("real.txt", join(dir, "alias"));
  const entries = await listArtifactEntries(dir);
  assert.deepEqual(
    entries.map((entry) => [entry.path, entry.mode]),
    [
      ["alias", "120000"],
      ["real.txt", "100644"],
    ],
  );
  assert.equal(entries[0]?.sha256, sha("real.txt"));
});
