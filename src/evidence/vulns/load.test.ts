import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { strToU8, zipSync } from "fflate";
import { UserError } from "../../errors.js";
import { fixturesDir } from "../../testing/paths.js";
import { loadAdvisories } from "./load.js";
import { MemoryAdvisoryStore } from "./store.js";

const advisoriesDir = join(fixturesDir, "vulns", "advisories");

describe("loading advisories", () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "waybill-vulns-"));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("reads one JSON file", async () => {
    const loaded = await loadAdvisories(join(advisoriesDir, "npm", "GHSA-35jh-r3h4-6jhm.json"));
    assert.deepEqual(
      loaded.advisories.map((advisory) => advisory.id),
      ["GHSA-35jh-r3h4-6jhm"],
    );
  });

  it("reads a directory recursively", async () => {
    const loaded = await loadAdvisories(advisoriesDir);
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(loaded.advisories.map((advisory) => advisory.id).sort(), [
      "GHSA-35jh-r3h4-6jhm",
      "GHSA-c2qf-rxjj-qqgw",
      "GHSA-j8r2-6x86-q33q",
      "GHSA-jfh8-c2jp-5v3q",
      "GHSA-p6mc-m468-83gw",
      "GHSA-xvch-5gv4-984h",
      "GO-2020-0015",
      "GO-2022-0969",
      "PYSEC-2023-74",
    ]);
  });

  it("reads an osv.dev-style all.zip, also inside a directory, skipping non-JSON entries", async () => {
    const npmDir = join(advisoriesDir, "npm");
    const files: Record<string, Uint8Array> = { "README.txt": strToU8("not an advisory") };
    for (const id of ["GHSA-35jh-r3h4-6jhm", "GHSA-xvch-5gv4-984h"]) {
      files[`${id}.json`] = await readFile(join(npmDir, `${id}.json`));
    }
    const zipDir = join(scratch, "db", "npm");
    await mkdir(zipDir, { recursive: true });
    const zipPath = join(zipDir, "all.zip");
    await writeFile(zipPath, zipSync(files));

    const fromZip = await loadAdvisories(zipPath);
    assert.deepEqual(
      fromZip.advisories.map((advisory) => advisory.id),
      ["GHSA-35jh-r3h4-6jhm", "GHSA-xvch-5gv4-984h"],
    );
    const fromDirectory = await loadAdvisories(join(scratch, "db"));
    assert.equal(fromDirectory.advisories.length, 2);

    const store = new MemoryAdvisoryStore();
    await store.put(fromZip.advisories);
    const forMinimist = await store.byPackage("npm", "minimist");
    assert.deepEqual(
      forMinimist.map((advisory) => advisory.id),
      ["GHSA-xvch-5gv4-984h"],
    );
  });

  it("turns unreadable records in a directory into warnings", async () => {
    const dir = join(scratch, "mixed");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "broken.json"), "{ not json");
    await writeFile(join(dir, "no-id.json"), JSON.stringify({ affected: [] }));
    await writeFile(
      join(dir, "bad-event.json"),
      JSON.stringify({
        id: "X-1",
        affected: [{ ranges: [{ type: "SEMVER", events: [{ introduced: "0", fixed: "1" }] }] }],
      }),
    );
    await writeFile(join(dir, "ok.json"), JSON.stringify({ id: "X-2" }));
    const loaded = await loadAdvisories(dir);
    assert.deepEqual(
      loaded.advisories.map((advisory) => advisory.id),
      ["X-2"],
    );
    assert.equal(loaded.warnings.length, 3);
    assert.match(
      loaded.warnings.join("\n"),
      /bad-event\.json: X-1: affected\[0\]\.ranges\[0\]\.events\[0\] must have exactly one of/,
    );
  });

  it("makes a missing path, a bad single file or a bad zip a UserError", async () => {
    await assert.rejects(loadAdvisories(join(scratch, "nowhere")), UserError);
    const bad = join(scratch, "bad.json");
    await writeFile(bad, "[]");
    await assert.rejects(loadAdvisories(bad), /is not an OSV advisory/);
    const badZip = join(scratch, "bad.zip");
    await writeFile(badZip, "PK not really");
    await assert.rejects(loadAdvisories(badZip), /not a readable zip archive/);
  });

  it("keeps the newer revision when a record arrives twice", async () => {
    const store = new MemoryAdvisoryStore();
    const affected = [{ package: { ecosystem: "PyPI", name: "Flask_Cors" } }];
    await store.put([{ id: "A", modified: "2024-02-01T00:00:00Z", summary: "new", affected }]);
    await store.put([{ id: "A", modified: "2023-01-01T00:00:00Z", summary: "old", affected }]);
    const found = await store.byPackage("PyPI", "flask-cors");
    assert.deepEqual(
      found.map((advisory) => advisory.summary),
      ["new"],
    );
  });
});
