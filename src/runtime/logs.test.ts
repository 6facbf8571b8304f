import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lastLines, rotateIfOversized, sizeOf } from "./logs.js";

test("lastLines quotes only what was written since the offset, last lines last", async () => {
  const dir = mkdtempSync(join(tmpdir(), "waybill-logs-"));
  try {
    const path = join(dir, "a.stderr.log");
    assert.deepEqual(await lastLines(path, 0, 5), []);
    writeFileSync(path, "old run\n");
    const offset = await sizeOf(path);
    appendFileSync(path, "one\n\ntwo\nthree\n");
    assert.deepEqual(await lastLines(path, offset, 2), ["two", "three"]);
    assert.deepEqual(await lastLines(path, offset, 10), ["one", "two", "three"]);
    assert.deepEqual(
      await lastLines(path, offset, 10, 9),
      ["three"],
      "a line cut by the byte limit is dropped",
    );
    assert.deepEqual(
      await lastLines(path, 10_000, 10),
      ["old run", "one", "two", "three"],
      "after a rotation",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rotateIfOversized copies to .1 and truncates only above the cap", async () => {
  const dir = mkdtempSync(join(tmpdir(), "waybill-logs-"));
  try {
    const path = join(dir, "a.stdout.log");
    writeFileSync(path, "x".repeat(100));
    assert.equal(await rotateIfOversized(path, 100), false);
    assert.equal(existsSync(`${path}.1`), false);
    appendFileSync(path, "y");
    assert.equal(await rotateIfOversized(path, 100), true);
    assert.equal(readFileSync(`${path}.1`, "utf8"), `${"x".repeat(100)}y`);
    assert.equal(await sizeOf(path), 0);
    assert.equal(await rotateIfOversized(join(dir, "missing.log"), 1), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
