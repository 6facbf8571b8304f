/**
 * The bundled CLI (dist/bundle/main.js, what bin/waybill.js runs; scripts/bundle-cli.mjs) says and
 * does exactly what the compiled tree's dist/cli/main.js does: the same exit code, stdout and
 * stderr for each command line, including the files its modules find beside themselves (package.json
 * for --version, a JSON import, parsers loaded on demand, the control plane it starts).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cleanUp, type CliResult } from "../testing/cli.js";
import { commands } from "./commands/index.js";
import { cliEntry, distRoot, fixturesDir, repoRoot } from "../testing/paths.js";

const bundleEntry = join(distRoot, "bundle", "main.js");
const scratch = mkdtempSync(join(tmpdir(), "waybill-bundle-"));
const stateDir = join(scratch, "state");

function run(entry: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: repoRoot,
      env: { ...process.env, WAYBILL_STATE: stateDir, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function bothAlike(args: string[]): Promise<CliResult> {
  const bundled = await run(bundleEntry, args);
  const unbundled = await run(cliEntry, args);
  assert.deepEqual(bundled, unbundled, `waybill ${args.join(" ")}: bundled and unbundled differ`);
  return bundled;
}

const sbomFixtures = join(fixturesDir, "sbom");

after(async () => {
  await run(cliEntry, ["down"]);
  cleanUp(scratch);
});

describe("the bundled CLI", () => {
  it("is built beside the compiled tree", () => {
    assert.ok(existsSync(bundleEntry), `${bundleEntry} is missing: npm run build bundles the CLI`);
  });

  const cases: { name: string; args: string[]; code: number }[] = [
    { name: "prints Waybill's version from package.json", args: ["--version"], code: 0 },
    { name: "lists every command", args: ["--help"], code: 0 },
    { name: "prints a command's options", args: ["sbom", "--help"], code: 0 },
    {
      name: "writes the same CycloneDX document for a 1,357-entry package-lock",
      args: ["sbom", join(sbomFixtures, "npm-big"), "--json"],
      code: 0,
    },
    {
      name: "loads the YAML parser on demand (yarn berry)",
      args: ["sbom", join(sbomFixtures, "yarn-berry"), "--json"],
      code: 0,
    },
    {
      name: "loads the TOML parser on demand (poetry)",
      args: ["sbom", join(sbomFixtures, "poetry-1.1"), "--json"],
      code: 0,
    },
    {
      name: "loads the zip reader on demand (jars and wars)",
      args: ["sbom", join(sbomFixtures, "maven"), "--json"],
      code: 0,
    },
    {
      name: "reads the removed-API table it imports as JSON",
      args: ["upgrade-check", join(fixturesDir, "kube", "upgrade"), "--kube-version", "1.32", "--json"],
      code: 1,
    },
    { name: "refuses an unknown option with exit 2", args: ["sbom", "--no-such-option"], code: 2 },
    {
      name: "refuses a value its schema refuses with exit 2",
      args: ["logs", "web", "--tail", "abc"],
      code: 2,
    },
    { name: "refuses an unknown command with exit 2", args: ["sbomm"], code: 2 },
    {
      name: "refuses a folder that does not exist with exit 2",
      args: ["sbom", join(scratch, "nothing")],
      code: 2,
    },
  ];
  for (const { name, args, code } of cases) {
    it(name, async () => {
      const result = await bothAlike(args);
      assert.equal(result.code, code, result.stderr);
    });
  }

  it("loads every command's module and its imports (each command's --help)", async () => {
    for (const { name } of commands) {
      const result = await bothAlike([name, "--help"]);
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
    }
  });

  it("starts the control plane from the compiled tree and talks to it", { timeout: 120_000 }, async () => {
    const started = await run(bundleEntry, ["status"]);
    assert.equal(started.code, 0, started.stderr);
    const again = await bothAlike(["status"]);
    assert.equal(again.stdout, started.stdout);
  });
});
