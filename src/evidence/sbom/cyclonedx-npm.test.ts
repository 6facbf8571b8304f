import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "../../testing/paths.js";
import { generateSbom } from "./index.js";
import { sbomFixtures } from "./schema.test.helpers.js";

const cyclonedxNpmCli = join(
  repoRoot,
  "node_modules",
  "@cyclonedx",
  "cyclonedx-npm",
  "bin",
  "cyclonedx-npm-cli.js",
);

describe("against @cyclonedx/cyclonedx-npm", () => {
  it("finds the same set of purls in the 1,357-entry lockfile, dev dependencies included", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waybill-cdx-npm-"));
    try {
      await cp(join(sbomFixtures, "npm-big"), dir, { recursive: true });
      const out = join(dir, "cyclonedx-npm.json");
      // --package-lock-only: `npm ls` reads the lockfile alone, no node_modules and no network
      await promisify(execFile)(
        process.execPath,
        [
          cyclonedxNpmCli,
          "--package-lock-only",
          "--flatten-components",
          "--spec-version",
          "1.6",
          "--output-file",
          out,
        ],
        { cwd: dir, timeout: 120_000 },
      );
      const theirs = JSON.parse(await readFile(out, "utf8")) as { components: Array<{ purl: string }> };
      const { bom } = await generateSbom(join(sbomFixtures, "npm-big"));
      // cyclonedx-npm lists every installed copy (nested duplicates too) and may add purl
      // qualifiers; Waybill lists each name@version once: compare the bare purl sets
      const bare = (purl: string) => purl.split("?")[0] ?? purl;
      const theirPurls = new Set(theirs.components.map((c) => bare(c.purl)));
      const ourPurls = new Set((bom.components ?? []).map((c) => c.purl ?? ""));
      assert.equal(theirs.components.length, 1357);
      assert.equal(ourPurls.size, 1163);
      assert.deepEqual(
        [...ourPurls].filter((purl) => !theirPurls.has(purl)),
        [],
      );
      assert.deepEqual(
        [...theirPurls].filter((purl) => !ourPurls.has(purl)),
        [],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
