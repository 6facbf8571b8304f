/**
 * Runs the real compiled CLI as a user would, each test with a state dir of its own, and
 * finds the app processes a control plane left behind.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import assert from "node:assert/strict";
import type { CliCommand, CliContext } from "../cli/command.js";
import { UserError } from "../errors.js";
import { cliEntry, repoRoot } from "./paths.js";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { stateDir: string; cwd?: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: {
        ...process.env,
        WAYBILL_STATE: options.stateDir,
        WAYBILL_PROXY_PORTS: proxyPortsFor(options.stateDir),
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A proxy port window of its own for each state dir, so control planes of tests running side
 * by side do not pick each other's stable ports (below the OS's ephemeral range).
 */
function proxyPortsFor(stateDir: string): string {
  const hash = createHash("sha256").update(stateDir).digest().readUInt32BE(0);
  const low = 20_000 + (hash % 240) * 50;
  return `${low}-${low + 49}`;
}

/** A scratch folder with a copy of examples/<name> and an empty state dir. */
export function scratchExample(name: string): { root: string; serviceDir: string; stateDir: string } {
  const root = mkdtempSync(join(tmpdir(), `waybill-${name}-`));
  // Passable, as a project folder is, so apps running as the app user reach their artifacts here.
  chmodSync(root, 0o711);
  const serviceDir = join(root, name);
  cpSync(join(repoRoot, "examples", name), serviceDir, {
    recursive: true,
    filter: (path) => !/\/(dist|\.waybill)$/.test(path),
  });
  return { root, serviceDir, stateDir: join(root, "state") };
}

/** Replaces the stages of a scratch service's waybill.yaml with the given YAML list items. */
export function replaceStages(serviceDir: string, stages: string[]): void {
  const file = join(serviceDir, "waybill.yaml");
  const spec = readFileSync(file, "utf8");
  writeFileSync(
    file,
    `${spec.slice(0, spec.indexOf("stages:"))}stages:\n${stages.map((stage) => `  - ${stage}\n`).join("")}`,
  );
}

/** Pids of live processes whose environment carries WAYBILL_CONTROL_PLANE=<id>. */
export function processesOf(controlPlaneId: string): number[] {
  const marker = `WAYBILL_CONTROL_PLANE=${controlPlaneId}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      if (environ.includes(marker)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export function controlPlaneIdOf(stateDir: string): string {
  return readFileSync(join(stateDir, "id"), "utf8").trim();
}

export function cleanUp(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** A CLI context that keeps what a command prints, for commands run in this process. */
export function capture(stateDir = ".waybill"): {
  context: CliContext;
  out: () => string;
  err: () => string;
} {
  let stdout = "";
  let stderr = "";
  return {
    context: { stateDir, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) },
    out: () => stdout,
    err: () => stderr,
  };
}

/** Runs one command's `run` in this process, as the CLI does after parsing, capturing what it prints. */
export async function runCommand(
  command: CliCommand,
  args: string[],
  options: Record<string, unknown> = {},
  stateDir = ".waybill",
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { context, out, err } = capture(stateDir);
  const exitCode = await command.run(args, options, context);
  return { exitCode, stdout: out(), stderr: err() };
}

/** The UserError `run` throws; anything else it throws, or nothing, fails the test. */
export async function userErrorOf(run: () => Promise<unknown>): Promise<UserError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  assert.fail("expected a UserError");
}

/** Waits, polling every 100 ms, until `check` holds; fails the test after 30 s, naming `what`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what} did not happen within 30 s`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ships a scratch example through one quick stage, dev (no test, no gate); returns dev's URL. */
export async function shipToDevOnly(
  serviceDir: string,
  cli: (args: string[]) => Promise<CliResult>,
  version: string,
): Promise<string> {
  replaceStages(serviceDir, ["{ name: dev, test: false, gate: false }"]);
  const shipped = await cli(["ship", basename(serviceDir), "--version", version]);
  assert.equal(shipped.code, 0, shipped.stderr);
  const status = JSON.parse((await cli(["status", basename(serviceDir), "--json"])).stdout) as {
    services: { stages: { url: string }[] }[];
  };
  return status.services[0]?.stages[0]?.url ?? "";
}

/**
 * An npm lockfile in the service's folder locking lodash at `version`, with a made-up integrity
 * (from `integritySeed`) so that two builds of one version can differ or match as a test needs.
 */
export function writeLodashLock(
  serviceDir: string,
  version: string,
  integritySeed = `lodash-${version}`,
): void {
  writeFileSync(
    join(serviceDir, "package-lock.json"),
    JSON.stringify({
      name: "hello",
      version: "1.0.0",
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": { name: "hello", version: "1.0.0", dependencies: { lodash: version } },
        "node_modules/lodash": {
          version,
          resolved: `https://registry.npmjs.org/lodash/-/lodash-${version}.tgz`,
          integrity: `sha512-${Buffer.from(integritySeed.padEnd(64, "x")).toString("base64")}`,
        },
      },
    }),
  );
}
