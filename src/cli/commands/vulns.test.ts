import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { runCommand } from "../../testing/cli.js";
import { fixturesDir } from "../../testing/paths.js";
import { vulnsCommand } from "./vulns.js";

const vulnsFixtures = join(fixturesDir, "vulns");
const db = join(vulnsFixtures, "advisories");
const sbom = join(vulnsFixtures, "sbom", "app.cdx.json");

async function runVulns(args: string[], options: Record<string, unknown>) {
  return runCommand(vulnsCommand, args, options);
}

describe("waybill vulns", () => {
  it("prints findings as JSON, sorted by severity then id, and exits 1 for those at or above high", async () => {
    const { exitCode, stdout, stderr } = await runVulns([sbom], { db, json: true });
    assert.equal(exitCode, 1);
    assert.equal(stderr, "");
    const { findings } = JSON.parse(stdout) as { findings: Record<string, unknown>[] };
    assert.deepEqual(
      findings.map((finding) => finding.severity),
      ["critical", "critical", "high", "high", "medium", "medium", "unknown", "unknown"],
    );
    assert.deepEqual(findings[5], {
      id: "GHSA-j8r2-6x86-q33q",
      aliases: ["CVE-2023-32681", "PYSEC-2023-74"],
      package: { ecosystem: "PyPI", name: "requests", version: "2.28.1", purl: "pkg:pypi/requests@2.28.1" },
      severity: "medium",
      score: 6.1,
      fixed: "2.31.0",
    });
  });

  it("prints a table without --json", async () => {
    const { exitCode, stdout } = await runVulns([sbom], { db });
    assert.equal(exitCode, 1);
    const lines = stdout.split("\n");
    assert.match(lines[0] ?? "", /^SEVERITY\s+SCORE\s+ID\s+PACKAGE\s+INSTALLED\s+FIXED IN\s+ALIASES$/);
    assert.match(
      lines[1] ?? "",
      /^critical\s+10\.0\s+GHSA-jfh8-c2jp-5v3q\s+org\.apache\.logging\.log4j:log4j-core \(Maven\)\s+2\.14\.1\s+2\.15\.0\s+CVE-2021-44228$/,
    );
    assert.match(
      stdout,
      /\n8 findings \(12 packages against 9 advisories\)\nfailed: 4 findings at or above high\n$/,
    );
  });

  it("passes below the --fail-on threshold, and names the threshold", async () => {
    const { exitCode, stdout } = await runVulns([sbom], { db, failOn: "critical" });
    assert.equal(exitCode, 1);
    assert.match(stdout, /failed: 2 findings at or above critical\n$/);
  });

  it("never reads an ecosystem with no advisories as clean", async () => {
    const unscanned = await runVulns([join(vulnsFixtures, "npm-app")], { db: join(db, "go") });
    assert.equal(unscanned.exitCode, 1);
    assert.equal(
      unscanned.stdout,
      "no known vulnerabilities (5 packages against 2 advisories)\n" +
        "not scanned: npm (5 packages): the database has no npm advisories\n" +
        "failed: 0 findings at or above high, 1 ecosystem not scanned\n",
    );
    const allowed = await runVulns([join(vulnsFixtures, "npm-app")], {
      db: join(db, "go"),
      allowUnscanned: true,
    });
    assert.equal(allowed.exitCode, 0);
    assert.match(allowed.stdout, /passed: nothing at or above high\n$/);
  });

  it("rejects bad input with a UserError (exit 2)", async () => {
    const isUserError = (error: unknown) => error instanceof UserError && error.exitCode === 2;
    await assert.rejects(runVulns([join(vulnsFixtures, "missing.json")], { db }), isUserError);
    await assert.rejects(runVulns([sbom], {}), isUserError);
    await assert.rejects(runVulns([sbom], { db, failOn: "severe" }), isUserError);
    await assert.rejects(runVulns([sbom], { db: join(vulnsFixtures, "nowhere") }), isUserError);
    await assert.rejects(runVulns([join(db, "npm", "GHSA-p6mc-m468-83gw.json")], { db }), isUserError);
  });
});
