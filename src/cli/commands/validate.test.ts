import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SpecError } from "../../spec/load.js";
import { runCommand } from "../../testing/cli.js";
import { cliEntry, fixturesDir } from "../../testing/paths.js";
import { commands } from "./index.js";
import { validateCommand } from "./validate.js";

const validDir = join(fixturesDir, "spec", "valid");
const malformedDir = join(fixturesDir, "spec", "malformed");

async function runValidate(args: string[], options: Record<string, unknown> = {}) {
  return runCommand(validateCommand, args, options);
}

describe("waybill validate", () => {
  it("prints one ok line naming the service and its stages", async () => {
    const file = join(validDir, "minimal.yaml");
    const { exitCode, stdout } = await runValidate([file]);
    assert.equal(exitCode, 0);
    assert.equal(stdout, `ok: ${file} is valid (service hello, stages dev → staging → production)\n`);
  });

  it("names the slo file a waybill.yaml refers to", async () => {
    const { stdout } = await runValidate([join(validDir, "with-slo-file", "waybill.yaml")]);
    assert.match(stdout, /^ok: .*waybill\.yaml and .*slo\.yaml are valid \(service cart, /);
  });

  it("validates a Keptn slo.yaml as an SLO", async () => {
    const file = join(validDir, "keptn-slo.yaml");
    const { exitCode, stdout } = await runValidate([file]);
    assert.equal(exitCode, 0);
    assert.equal(stdout, `ok: ${file} is a valid Keptn SLO file (4 objectives, total_score pass 90%)\n`);
  });

  it("looks for waybill.yaml in a folder", async () => {
    const { exitCode, stdout } = await runValidate([join(validDir, "with-slo-file")]);
    assert.equal(exitCode, 0);
    assert.match(stdout, /with-slo-file\/waybill\.yaml and/);
  });

  it("throws a SpecError, exit 2, for an invalid file", async () => {
    await assert.rejects(
      runValidate([join(malformedDir, "typo-strategy.yaml")]),
      (error: unknown) => error instanceof SpecError && error.exitCode === 2,
    );
  });

  it("prints the issues as JSON with --json", async () => {
    const file = join(malformedDir, "typo-strategy.yaml");
    const { exitCode, stdout } = await runValidate([file], { json: true });
    assert.equal(exitCode, 2);
    assert.deepEqual(JSON.parse(stdout), {
      valid: false,
      file,
      issues: [
        {
          file,
          line: 5,
          col: 46,
          path: "stages[1].strategy",
          message: 'expected one of direct, blue-green, canary, got "bluegreen"',
        },
      ],
    });
  });

  it("prints valid: true as JSON with --json", async () => {
    const { exitCode, stdout } = await runValidate([join(validDir, "minimal.yaml")], { json: true });
    assert.equal(exitCode, 0);
    assert.equal(JSON.parse(stdout).valid, true);
  });

  it("exits 2 from the real CLI with the position and no stack trace", (t) => {
    if (!commands.some((command) => command.name === "validate")) {
      t.skip("validate is not registered in src/cli/commands/index.ts yet");
      return;
    }
    const file = join(malformedDir, "run-command-and.yaml");
    const result = spawnSync(process.execPath, [cliEntry, "validate", file], { encoding: "utf8" });
    assert.equal(result.status, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`^error: ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:4:12: run\\.command: `),
    );
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.equal(result.stdout, "");
  });
});
