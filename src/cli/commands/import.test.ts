import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadServiceSpec } from "../../spec/load.js";
import { runCommand, userErrorOf } from "../../testing/cli.js";
import { fixturesDir } from "../../testing/paths.js";
import { importCommand } from "./import.js";

describe("waybill import", () => {
  const root = mkdtempSync(join(tmpdir(), "waybill-import-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const keptn = (name: string) => join(fixturesDir, "keptn", name);
  const options = (dir: string) => ({ dir, prometheus: "http://127.0.0.1:9090" });

  it("writes a waybill.yaml from a Keptn shipyard, slo.yaml and sli.yaml that loads and validates", async () => {
    const dir = join(root, "carts");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "carts", scripts: { start: "node server.js" } }),
    );
    const slo = join(root, "keptn-slo.yaml");
    copyFileSync(keptn("slo.yaml"), slo);
    const result = await runCommand(
      importCommand,
      ["keptn", keptn("sockshop-shipyard.yaml"), slo, keptn("sli.yaml")],
      options(dir),
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /sockshop-shipyard\.yaml:47:11: stage production: sequence "remediation"/);
    assert.match(result.stdout, /sli\.yaml:1:1: the Prometheus URL/);
    const { spec, sloFile } = loadServiceSpec(join(dir, "waybill.yaml"));
    assert.equal(sloFile, join(dir, "slo.yaml"));
    const loaded = typeof spec.slo === "string" ? undefined : spec.slo;
    assert.deepEqual(
      spec.stages.map((stage) => [stage.name, stage.strategy, stage.approval.pass, stage.test, stage.gate]),
      [
        ["dev", "direct", "automatic", true, true],
        ["staging", "blue-green", "automatic", true, true],
        ["production", "blue-green", "manual", false, false],
      ],
    );
    assert.deepEqual(spec.run.command, ["node", "server.js"]);
    assert.equal(
      readFileSync(join(dir, "slo.yaml"), "utf8"),
      readFileSync(keptn("slo.yaml"), "utf8"),
      "the SLO file unchanged",
    );
    assert.equal(loaded?.objectives?.[0]?.sli, "response_time_p95");
    assert.equal(spec.sli[0]?.provider, "prometheus");
    assert.match(readFileSync(join(dir, "waybill.yaml"), "utf8"), /^# not imported: .*remediation/m);
  });

  it("writes a waybill.yaml from OpenSLO objects", async () => {
    const dir = mkdtempSync(join(root, "checkout-"));
    const result = await runCommand(importCommand, ["openslo", keptn("openslo.yaml")], options(dir));
    assert.equal(result.exitCode, 0, result.stderr);
    const { spec } = loadServiceSpec(join(dir, "waybill.yaml"));
    assert.equal(spec.metadata.name, "checkout");
    const slo = typeof spec.slo === "string" ? undefined : spec.slo;
    assert.deepEqual(
      slo?.objectives?.map((objective) => objective.sli),
      ["checkout_availability", "checkout_latency_p95"],
    );
  });

  it("never overwrites a waybill.yaml", async () => {
    const dir = mkdtempSync(join(root, "taken-"));
    writeFileSync(join(dir, "waybill.yaml"), "kept\n");
    const error = await userErrorOf(() =>
      runCommand(importCommand, ["keptn", keptn("podtato-shipyard.yaml")], options(dir)),
    );
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /already exists/);
    assert.equal(readFileSync(join(dir, "waybill.yaml"), "utf8"), "kept\n");
  });
});
