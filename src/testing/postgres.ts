/**
 * A real PostgreSQL server for tests, and a fresh, empty database on it for each test.
 *
 * With WAYBILL_TEST_DATABASE_URL (a server URL whose role may CREATE DATABASE), that server.
 * Otherwise a private throwaway cluster: Debian's initdb and postgres in a temp dir, on a free
 * port of 127.0.0.1, with a random password, stopped and deleted when the process exits.
 * PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
 * Without PostgreSQL the tests are skipped with how to install it, except under CI=true,
 * where that is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import {
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { StoreLocation } from "../store/open-store.js";

const INSTALL_HINT =
  "PostgreSQL is not installed: install Debian's package (apt-get install -y postgresql) " +
  "or set WAYBILL_TEST_DATABASE_URL to a server whose role may create databases";

export type PostgresAvailability = { available: true } | { available: false; reason: string };

/** Whether the PostgreSQL tests can run here; under CI=true, throws rather than skip. */
export function postgresAvailability(): PostgresAvailability {
  if (serverUrlFromEnvironment() !== undefined || postgresBinDir() !== undefined) return { available: true };
  if (process.env.CI === "true") throw new Error(`${INSTALL_HINT} (CI=true: the PostgreSQL tests must run)`);
  return { available: false, reason: INSTALL_HINT };
}

export interface TestDatabase {
  /** Connects to the new database with a role that owns it */
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * `with (force)` ends the database's other connections, and refuses when one of them is a process
 * the test role may not signal: an autovacuum worker that has just started on it, after a test's
 * writes. That worker finishes or gives way within moments, so the drop is tried again.
 */
async function dropDatabase(server: string, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await onServer(server, `drop database if exists "${name}" with (force)`);
      return;
    } catch (error) {
      const mayNotSignal = error instanceof Error && "code" in error && error.code === "42501";
      if (!mayNotSignal || attempt === DROP_ATTEMPTS) throw error;
      await delay(200);
    }
  }
}

const DROP_ATTEMPTS = 25;

/** A new, empty database on the test server; `drop()` removes it (connections and all). */
export async function freshDatabase(): Promise<TestDatabase> {
  const server = await testServer();
  const name = `waybill_test_${randomBytes(6).toString("hex")}`;
  await onServer(server, `create database "${name}"`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => dropDatabase(server, name),
  };
}

async function onServer(server: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function serverUrlFromEnvironment(): string | undefined {
  const url = process.env.WAYBILL_TEST_DATABASE_URL;
  return url === undefined || url === "" ? undefined : url;
}

let server: Promise<string> | undefined;

function testServer(): Promise<string> {
  server ??= Promise.resolve(serverUrlFromEnvironment() ?? startPrivateCluster());
  return server;
}

/** The newest Debian PostgreSQL whose server binaries are installed */
function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter(
      (version) =>
        existsSync(join(root, version, "bin", "initdb")) &&
        existsSync(join(root, version, "bin", "postgres")),
    )
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

interface RunAs {
  /** Prepended to every server command */
  prefix: string[];
  uid: number;
  gid: number;
}

function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => {
    const result = spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
    if (result.status !== 0) {
      throw new Error(
        "running as root, the test cluster needs the postgres user (Debian's postgresql package makes it)",
      );
    }
    return Number(result.stdout.trim());
  };
  return { prefix: ["runuser", "-u", "postgres", "--"], uid: id("-u"), gid: id("-g") };
}

function command(user: RunAs | undefined, program: string, args: string[]): [string, string[]] {
  if (user === undefined) return [program, args];
  const [runner, ...rest] = user.prefix;
  return [runner ?? "runuser", [...rest, program, ...args]];
}

async function startPrivateCluster(): Promise<string> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(INSTALL_HINT);
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), "waybill-postgres-"));
  const data = join(dir, "data");
  const password = randomBytes(18).toString("hex");
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, password, { mode: 0o600 });
  if (user !== undefined) {
    chownSync(dir, user.uid, user.gid);
    chownSync(passwordFile, user.uid, user.gid);
  }
  let postgres: ChildProcess | undefined;
  process.once("exit", () => {
    if (postgres?.exitCode === null) {
      const [program, args] = command(user, join(bin, "pg_ctl"), [
        "stop",
        "-D",
        data,
        "-m",
        "immediate",
        "-w",
      ]);
      spawnSync(program, args, { stdio: "ignore" });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const [initdb, initArgs] = command(user, join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "waybill",
    `--pwfile=${passwordFile}`,
    "--auth=scram-sha-256",
    "--encoding=UTF8",
    "--no-sync",
  ]);
  const init = spawnSync(initdb, initArgs, { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  rmSync(passwordFile);

  // A port found free can be taken before the server binds it; then try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const logFile = join(dir, `postgres-${attempt}.log`);
    const log = openSync(logFile, "w");
    const [program, args] = command(user, join(bin, "postgres"), [
      "-D",
      data,
      "-p",
      String(port),
      "-h",
      "127.0.0.1",
      "-k",
      dir,
      "-F",
    ]);
    postgres = spawn(program, args, { stdio: ["ignore", log, log] });
    // The server must not keep a finished test process alive; the exit hook stops it.
    postgres.unref();
    closeSync(log);
    const url = `postgres://waybill:${password}@127.0.0.1:${port}/postgres`;
    const started = await ready(url, postgres);
    if (started) return url;
    const output = readFileSync(logFile, "utf8");
    if (attempt >= 5 || !/could not bind|Address already in use/i.test(output)) {
      throw new Error(
        `the test PostgreSQL server did not start:\n${output.split("\n").slice(-15).join("\n")}`,
      );
    }
  }
}

/** Until the server accepts a connection (true) or its process ends (false) */
async function ready(url: string, postgres: ChildProcess): Promise<boolean> {
  const exited = new Promise<false>((resolve) => postgres.once("exit", () => resolve(false)));
  for (;;) {
    if (postgres.exitCode !== null) return false;
    const client = new pg.Client({ connectionString: url });
    const connected = await client.connect().then(
      () => true,
      () => false,
    );
    await client.end().catch(() => undefined);
    if (connected) return true;
    const retry = new Promise<true>((resolve) => setTimeout(() => resolve(true), 100));
    if (!(await Promise.race([retry, exited]))) return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface StoreBackend {
  name: "sqlite" | "postgres";
  /** Why the backend cannot run here, or false */
  skip: string | false;
  /** A fresh place for a store: a state folder, and on PostgreSQL a fresh database */
  location(): Promise<StoreLocation>;
}

/**
 * Both backends a store test runs on. What each location makes (its folder, its database) is
 * handed to `onCleanUp`, for the test file to undo after each test.
 */
export function storeBackends(
  prefix: string,
  onCleanUp: (undo: () => Promise<void>) => void,
): StoreBackend[] {
  const postgres = postgresAvailability();
  const stateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    onCleanUp(async () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  return [
    { name: "sqlite", skip: false, location: async () => ({ stateDir: stateDir() }) },
    {
      name: "postgres",
      skip: postgres.available ? false : postgres.reason,
      async location() {
        const database = await freshDatabase();
        onCleanUp(() => database.drop());
        return { stateDir: stateDir(), databaseUrl: database.url };
      },
    },
  ];
}
