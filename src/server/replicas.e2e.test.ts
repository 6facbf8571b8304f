/**
 * The replica drill: two real `waybill serve` processes (state folders A and B) on one real
 * PostgreSQL database, shipping examples/hello-kube to Kubernetes stages on the API-server
 * TEST DOUBLE (set up as in src/targets/kube-ship.e2e.test.ts). The replica driving the run is
 * killed with SIGKILL while the stage's load test runs; the other takes the run over once the
 * lease runs out and finishes it. No run is lost, and no task's completion is recorded twice.
 *
 * B signs and verifies with A's keys: its state folder gets a copy of A's `keys` folder and
 * `trust.yaml` before it starts, as a team mounts one secret into every replica.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { FakeApiServer } from "../kube/testing/fake-api-server.js";
import { shortType, type StoredEvent } from "../store/events.js";
import type { KyselyStore } from "../store/kysely-store.js";
import { openPostgresStore } from "../store/postgres-store.js";
import { cleanUp, isAlive, runCli, scratchExample } from "../testing/cli.js";
import { cliEntry, repoRoot } from "../testing/paths.js";
import { freshDatabase, postgresAvailability, type TestDatabase } from "../testing/postgres.js";

const postgres = postgresAvailability();
const scratch = scratchExample("hello-kube");
const stateA = scratch.stateDir;
const stateB = join(scratch.root, "state-b");
const api = new FakeApiServer();
const kubeconfig = join(scratch.root, "kubeconfig.yaml");
const digest = `sha256:${"7".repeat(64)}`;
const LEASE = "2s";
let ingress: Server;
let database: TestDatabase;
let store: KyselyStore;
const replicas = new Map<string, ChildProcess>();

function serve(stateDir: string, proxyPorts: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [cliEntry, "serve", "--port", "0", "--metrics-port", "0", "--database", database.url, "--lease", LEASE],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        WAYBILL_STATE: stateDir,
        WAYBILL_PROXY_PORTS: proxyPorts,
        KUBECONFIG: kubeconfig,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.on("exit", (code, signal) => {
    if (code !== 0 && signal !== "SIGKILL" && signal !== "SIGTERM")
      process.stderr.write(`replica ${stateDir}: ${stderr}`);
  });
  replicas.set(stateDir, child);
  return child;
}

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 180_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`${what} did not happen within ${timeoutMs / 1000} s`);
}

/** Dev only, its load test long enough to be caught mid-way; the build plays the image push. */
function prepareService(): void {
  const file = join(scratch.serviceDir, "waybill.yaml");
  const testUrl = `http://127.0.0.1:${(ingress.address() as AddressInfo).port}/`;
  const spec = readFileSync(file, "utf8")
    .replace(
      /^ {2}command: >-\n( {4}.*\n)+/m,
      `  command: >-\n    printf '{"containerimage.digest":"%s"}' "$PUSHED_DIGEST" > image.json\n`,
    )
    .replace(
      /^stages:[\s\S]*$/m,
      `stages:\n  - name: dev\n    target: kube:kind-waybill/hello-dev\n    testUrl: ${testUrl}\n`,
    )
    .replace(/^stages:/m, "test:\n  load: { rate: 20, duration: 6s, requests: [{ path: / }] }\nstages:");
  writeFileSync(file, spec);
}

function writeKubeconfig(server: string, token: string): void {
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      `- name: fake\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true`,
      "users:",
      `- name: fake\n  user:\n    token: ${token}`,
      "contexts:",
      "- name: kind-waybill\n  context:\n    cluster: fake\n    user: fake",
      "current-context: kind-waybill",
      "",
    ].join("\n"),
  );
}

/** The pid in a replica id `<machine>/<pid>/<random>` */
function pidOf(replica: string): number {
  return Number(replica.split("/").at(-2));
}

async function holderOf(runId: string): Promise<string> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ holder: string }>(
      "select holder from run_leases where run_id = $1",
      [runId],
    );
    return rows[0]?.holder ?? "";
  } finally {
    await client.end();
  }
}

function completions(events: StoredEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events.filter((event) => shortType(event) === "task.succeeded")) {
    counts.set(String(event.data.task), (counts.get(String(event.data.task)) ?? 0) + 1);
  }
  return counts;
}

describe(
  "two replicas on one PostgreSQL database",
  { skip: postgres.available ? false : postgres.reason, timeout: 420_000 },
  () => {
    before(async () => {
      database = await freshDatabase();
      ingress = createServer((_request, response) => response.end("hello\n"));
      await new Promise<void>((resolve) => ingress.listen(0, "127.0.0.1", resolve));
      writeKubeconfig(await api.start(), api.token);
      prepareService();
    });
    after(async () => {
      for (const child of replicas.values()) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          await exited;
        }
      }
      await store?.close();
      await api.close();
      ingress.close();
      await database.drop();
      cleanUp(scratch.root);
    });

    test("a replica killed mid-ship leaves its run to the other, which finishes it once", async (t) => {
      serve(stateA, "33100-33149");
      await until("replica A is up", () => existsSync(join(stateA, "control-plane.json")), 60_000);
      store = await openPostgresStore(database.url, { maxConnections: 2 });
      mkdirSync(stateB, { recursive: true, mode: 0o700 });
      cpSync(join(stateA, "keys"), join(stateB, "keys"), { recursive: true });
      cpSync(join(stateA, "trust.yaml"), join(stateB, "trust.yaml"));

      const shipped = await runCli(["ship", "hello-kube", "--version", "1.0.0", "--no-wait"], {
        stateDir: stateA,
        cwd: scratch.root,
        env: { KUBECONFIG: kubeconfig, PUSHED_DIGEST: digest },
      });
      assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
      const [run] = await store.listRuns();
      assert.ok(run, "the ship queued a run");
      serve(stateB, "33150-33199");
      await until("replica B is up", () => existsSync(join(stateB, "control-plane.json")), 60_000);

      await until("the stage's load test runs", async () =>
        (await store.events({ run: run.id })).some(
          (event) => shortType(event) === "task.started" && event.data.task === "test",
        ),
      );
      const victim = await holderOf(run.id);
      const victimPid = pidOf(victim);
      const survivor = [...replicas.values()].find((child) => child.pid !== victimPid);
      assert.ok(survivor?.pid !== undefined && victimPid > 0, `the holder ${victim} is one of the replicas`);
      process.kill(victimPid, "SIGKILL");
      const killedAt = Date.now();
      await until("the killed replica is gone", () => !isAlive(victimPid), 30_000);

      await until(
        "the other replica finishes the run",
        async () => (await store.getRun(run.id))?.state === "succeeded",
      );
      const events = await store.events({ run: run.id });
      const takeovers = events.filter((event) => shortType(event) === "task.lease-taken-over");
      assert.equal(takeovers.length, 1, "one takeover is in the log");
      assert.equal(takeovers[0]?.data.from, victim);
      t.diagnostic(
        `taken over ${Date.parse(takeovers[0]?.time ?? "") - killedAt} ms after the kill (lease ${LEASE})`,
      );
      assert.equal(pidOf(String(takeovers[0]?.data.by)), survivor.pid);
      const counts = completions(events);
      assert.ok(
        [...counts.values()].every((count) => count === 1),
        `each task's completion is recorded once: ${JSON.stringify([...counts])}`,
      );
      assert.equal(counts.get("release"), 1);
      const testStarts = events.filter(
        (event) => shortType(event) === "task.started" && event.data.task === "test",
      );
      assert.equal(
        testStarts.length,
        2,
        "the load test the killed replica had begun ran again, on the survivor",
      );
      const runs = await store.listRuns();
      assert.deepEqual(
        runs.map((each) => [each.id, each.state]),
        [[run.id, "succeeded"]],
        "no run lost, none doubled",
      );
      const deployment = api.get("Deployment", "hello", "hello-dev")?.spec as
        { template: { spec: { containers: { image: string }[] } } } | undefined;
      assert.equal(deployment?.template.spec.containers[0]?.image, `localhost:5001/hello@${digest}`);
    });
  },
);
