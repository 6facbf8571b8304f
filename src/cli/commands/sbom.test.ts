import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { runCommand } from "../../testing/cli.js";
import { fixturesDir } from "../../testing/paths.js";
import { sbomCommand } from "./sbom.js";

async function runSbom(args: string[], options: Record<string, unknown> = {}) {
  return runCommand(sbomCommand, args, options);
}

const storefront = join(fixturesDir, "sbom", "storefront-npm");

describe("waybill sbom", () => {
  it("prints a one-line summary by ecosystem without --json", async () => {
    const { exitCode, stdout } = await runSbom([storefront]);
    assert.equal(exitCode, 0);
    assert.equal(stdout, "130 components (npm 130)\n");
  });

  it("prints the CycloneDX JSON with --json", async () => {
    const { stdout } = await runSbom([storefront], { json: true });
    const bom = JSON.parse(stdout) as { bomFormat: string; specVersion: string; components: unknown[] };
    assert.equal(bom.bomFormat, "CycloneDX");
    assert.equal(bom.specVersion, "1.6");
    assert.equal(bom.components.length, 130);
  });

  it("writes the JSON to --out and says so on stderr, leaving stdout empty", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waybill-sbom-cli-"));
    try {
      const out = join(dir, "bom.json");
      const { stdout, stderr } = await runSbom([storefront], { out });
      assert.equal(stdout, "");
      assert.match(stderr, /wrote .*bom\.json: 130 components/);
      const written = JSON.parse(await readFile(out, "utf8")) as { specVersion: string };
      assert.equal(written.specVersion, "1.6");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects a folder that is not there with a UserError (exit 2)", async () => {
    await assert.rejects(runSbom([join(fixturesDir, "sbom", "missing")]), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.exitCode, 2);
      return true;
    });
  });
});
