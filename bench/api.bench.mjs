// The API's speed on PostgreSQL with a team's history: 1,000 services × 3 stages, a few runs
// each, releases and evaluations, written through the real store. Reads: `GET /v1/status` (all,
// one service) and `GET /v1/runs` (latest 200, one service) under 50 concurrent clients, side by
// side with the same requests against the embedded SQLite control plane holding the same
// history (the peer: same binary, same answers, so the ratio is what the shared database costs).
// Both control planes run at once and the cases alternate, so load on the shared machine hits
// both alike. Intake: `POST /v1/ships` against one replica, then against two replicas on the
// same database in parallel, while pg_stat_activity is sampled to show where the time goes.
// Prints one summary line on stdout; per-case figures go to stderr.
//
//   node bench/api.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_SERVICES=1000 BENCH_SECONDS=8 BENCH_CONNECTIONS=50 BENCH_INTAKE_SECONDS=8 BENCH_INTAKE_SERVICES=20
//   BENCH_INTAKE_CASES=one,spread (one: one service shipped over and over; spread: over BENCH_INTAKE_SERVICES)
//   (BENCH_SECONDS=0: intake only, on the PostgreSQL history; no reads, no SQLite)
//   BENCH_INTAKE_SECONDS=0 (reads only)  BENCH_CASES=status,runs?service (only these reads)
//   BENCH_CPU_PROFILE=<dir> (the control planes write V8 CPU profiles there as they stop)
//   (a ship takes seconds under 50 clients on two replicas: autocannon counts only the answers
//   that came back, so intake rounds under about 5 s report too little)
//   WAYBILL_BENCH_DATABASE_URL=postgres://…   a server whose role may CREATE DATABASE; without
//                                             it, a private throwaway cluster (as the tests do)
import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { performance } from "node:perf_hooks";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { benchArguments } from "./lib/args.mjs";

const { stop, positiveInteger } = benchArguments("api");

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const cli = join(distDir, "cli", "main.js");
const serviceCount = positiveInteger("BENCH_SERVICES", 1000);
const seconds = positiveInteger("BENCH_SECONDS", 8, { zero: true });
const readsToo = seconds > 0;
// 0 measures the reads only
const intakeSeconds = positiveInteger("BENCH_INTAKE_SECONDS", 8, { zero: true });
/** Only the read cases of these names (comma-separated), when given */
const readCases = process.env.BENCH_CASES?.split(",").filter((name) => name !== "");
/** Where the control planes write their V8 CPU profiles (`--cpu-prof`), when given */
const profileDir = process.env.BENCH_CPU_PROFILE;
const connections = positiveInteger("BENCH_CONNECTIONS", 50);
/** Services the spread intake rounds ship to, in turn */
const INTAKE_SERVICES = positiveInteger("BENCH_INTAKE_SERVICES", 20);
/** Which intake rounds run: `one` (one service shipped over and over), `spread` (over INTAKE_SERVICES) */
const intakeCases = (process.env.BENCH_INTAKE_CASES ?? "one,spread").split(",");
for (const name of intakeCases) {
  if (name !== "one" && name !== "spread") stop(`BENCH_INTAKE_CASES: "${name}" is neither one nor spread`);
}
/** Every load loop stops at this many requests even if its time is not up */
const MAX_REQUESTS = 200_000;
const GOAL_P99_MS = 50;
const STAGES = ["dev", "staging", "production"];

if (!existsSync(cli)) stop(`${cli} is missing: build first (npm run build)`);
const benchUrl = process.env.WAYBILL_BENCH_DATABASE_URL;
if (benchUrl !== undefined && benchUrl !== "") process.env.WAYBILL_TEST_DATABASE_URL = benchUrl;

const load = (path) => import(pathToFileURL(join(distDir, path)).href);
const { openStore } = await load("store/open-store.js");
const { newEvent } = await load("store/events.js");
const { serviceStatus } = await load("engine/run-views.js");
const { stageStatus } = await load("engine/status.js");
// The tests' harness: a fresh database on the given server, or on a private cluster it starts
// and removes again when this process exits.
const { freshDatabase, postgresAvailability } = await load("testing/postgres.js");

const availability = postgresAvailability();
if (!availability.available) stop(availability.reason);

const workDir = mkdtempSync(join(tmpdir(), "waybill-api-bench-"));
const servers = [];
let database;
// The exit hooks (the cluster's, this one) run on a signal only through process.exit.
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
process.once("exit", () => {
  for (const server of servers) if (server.child.exitCode === null) server.child.kill("SIGKILL");
  rmSync(workDir, { recursive: true, force: true });
});

// Node's own HTTP client; the lint config of the benches does not list it as a global.
const { fetch } = globalThis;
const log = (line) => process.stderr.write(`${line}\n`);
const digestOf = (n) => `sha256:${n.toString(16).padStart(64, "0")}`;
const serviceName = (i) => `svc-${String(i).padStart(4, "0")}`;

/**
 * The events the engine writes for one service: three ships through dev, staging and production
 * (released, judged, finished), the third failing in production for every fifth service; every
 * tenth service has a run waiting for approval in dev and a rollback queued behind it.
 */
function serviceHistory(i) {
  const service = serviceName(i);
  const events = [
    newEvent("service.registered", `services/${service}`, {
      name: service,
      dir: `/srv/${service}`,
      stages: STAGES,
    }),
  ];
  for (let ship = 1; ship <= 3; ship++) {
    const digest = digestOf(i * 10 + ship);
    const version = `1.0.${ship}`;
    const shipId = `ship-${i}-${ship}`;
    events.push(
      newEvent("artifact.recorded", `services/${service}/artifacts/${digest}`, {
        service,
        digest,
        version,
        path: `/artifacts/${digest}`,
        mountPath: "dist",
        spec: { metadata: { name: service } },
      }),
    );
    STAGES.forEach((stage, stageIndex) => {
      const runId = `r-${i}-${ship}-${stageIndex}`;
      const subject = `runs/${runId}`;
      const fails = ship === 3 && stage === "production" && i % 5 === 0;
      const queued = { runId, shipId, kind: "ship", service, stage, stageIndex, digest, version };
      events.push(
        newEvent("run.queued", subject, queued, runId),
        newEvent("run.started", subject, {}, runId),
        newEvent("task.started", subject, { task: "deploy", attempt: 1 }, runId),
        newEvent("task.succeeded", subject, { task: "deploy" }, runId),
        newEvent(
          "release.recorded",
          `services/${service}/stages/${stage}`,
          {
            service,
            stage,
            target: "local",
            digest,
            version,
          },
          runId,
        ),
      );
      if (stageIndex > 0) {
        const result = fails ? "fail" : "pass";
        events.push(
          newEvent(
            "evaluation.recorded",
            subject,
            {
              service,
              stage,
              digest,
              version,
              result,
              score: fails ? 40 : 100,
              values: { latency_p95: 100 + ship, error_rate: 0 },
              noValueReasons: {},
              evaluation: { result },
              sloDigest: null,
              baseline: [],
              window: null,
              latencySamplesMs: [],
            },
            runId,
          ),
          newEvent("run.result", subject, { result }, runId),
        );
      }
      events.push(
        fails
          ? newEvent("run.finished", subject, { state: "failed", reason: "the quality gate failed" }, runId)
          : newEvent("run.finished", subject, { state: "succeeded" }, runId),
      );
    });
  }
  if (i % 10 === 0) {
    const digest = digestOf(i * 10 + 4);
    const waiting = `r-${i}-4-0`;
    const queuedBehind = `r-${i}-5-0`;
    const deadline = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const queued = (runId, kind, version) =>
      newEvent(
        "run.queued",
        `runs/${runId}`,
        {
          runId,
          shipId: `ship-${i}-${runId}`,
          kind,
          service,
          stage: "dev",
          stageIndex: 0,
          digest,
          version,
        },
        runId,
      );
    events.push(
      newEvent("artifact.recorded", `services/${service}/artifacts/${digest}`, {
        service,
        digest,
        version: "1.0.4",
        path: `/artifacts/${digest}`,
        mountPath: "dist",
        spec: { metadata: { name: service } },
      }),
      queued(waiting, "ship", "1.0.4"),
      newEvent("run.started", `runs/${waiting}`, {}, waiting),
      // A far deadline, so the control plane's approval timer does not fire during the bench.
      newEvent("run.waiting-approval", `runs/${waiting}`, { result: "pass", deadline }, waiting),
      // A rollback is never superseded: it stays queued behind the waiting run.
      queued(queuedBehind, "rollback", "1.0.2"),
    );
  }
  return events;
}

async function fill(location) {
  const started = Date.now();
  const { store, close } = await openStore(location);
  try {
    let batch = [];
    for (let i = 0; i < serviceCount; i++) {
      batch.push(...serviceHistory(i));
      if (batch.length >= 2000 || i === serviceCount - 1) {
        await store.append(batch);
        batch = [];
      }
    }
    const runs = (await store.listRuns()).length;
    return { runs, ms: Date.now() - started };
  } finally {
    await close();
  }
}

async function statusReadings(location) {
  const { store, close } = await openStore(location);
  try {
    const url = () => undefined;
    const perService = async () => ({
      services: await Promise.all(
        (await store.listServices()).map(async (s) => {
          const runs = await store.listRuns({ service: s.name });
          const releases = await store.currentReleases(s.name);
          return { name: s.name, stages: s.stages.map((stage) => stageStatus(stage, runs, releases, null)) };
        }),
      ),
      next: null,
    });
    const bulk = () => serviceStatus(store, url);
    if (JSON.stringify(await perService()) !== JSON.stringify(await bulk())) {
      throw new Error("the status read in bulk differs from the status read per service");
    }
    const times = { perService: [], bulk: [] };
    for (let round = 0; round < 3; round++) {
      for (const [name, read] of [
        ["perService", perService],
        ["bulk", bulk],
      ]) {
        const started = performance.now();
        await read();
        times[name].push(performance.now() - started);
      }
    }
    const median = (values) => values.sort((a, b) => a - b)[1];
    return { perService: median(times.perService), bulk: median(times.bulk) };
  } finally {
    await close();
  }
}

/** A `waybill serve` on a free port of 127.0.0.1; resolves once it listens */
function serve(stateDir, databaseUrl, name) {
  const profiling = profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", resolve(profileDir)];
  const args = [...profiling, cli, "--state", stateDir, "serve", "--port", "0"];
  if (databaseUrl !== undefined) args.push("--database", databaseUrl);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const server = { name, child, stateDir };
  servers.push(server);
  let output = "";
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 60 s:\n${output}`)), 60_000);
    const listen = (text) => {
      output += text;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        server.url = match[1];
        server.token = readFileSync(join(stateDir, "token"), "utf8").trim();
        resolvePromise(server);
      }
    };
    child.stdout.setEncoding("utf8").on("data", listen);
    child.stderr.setEncoding("utf8").on("data", (text) => (output += text));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${output}`));
    });
  });
}

async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolvePromise) => server.child.once("exit", resolvePromise));
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

async function get(server, path) {
  const response = await fetch(server.url + path, { headers: { authorization: `Bearer ${server.token}` } });
  if (response.status !== 200)
    throw new Error(`${server.name} GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

let bodyTurn = 0;

function hammer(server, request, duration) {
  return new Promise((resolvePromise, reject) => {
    autocannon(
      {
        url: server.url + request.path,
        method: request.method ?? "GET",
        headers: {
          authorization: `Bearer ${server.token}`,
          ...(request.body === undefined && request.bodies === undefined
            ? {}
            : { "content-type": "application/json" }),
        },
        ...(request.body === undefined ? {} : { body: request.body }),
        // Each request the next of the bodies, in turn
        ...(request.bodies === undefined
          ? {}
          : {
              requests: [
                {
                  setupRequest: (req) => ({
                    ...req,
                    body: request.bodies[(bodyTurn = (bodyTurn + 1) % request.bodies.length)],
                  }),
                },
              ],
            }),
        connections,
        duration,
        maxOverallRequests: MAX_REQUESTS,
        timeout: 30,
      },
      (error, result) => {
        if (error) return reject(error);
        const bad = result.non2xx + result.errors + result.timeouts;
        if (bad > 0) {
          return reject(
            new Error(`${server.name} ${request.path}: ${bad} of ${result.requests.total} failed`),
          );
        }
        resolvePromise({
          p50: result.latency.p50,
          p99: result.latency.p99,
          rps: result.requests.total / (result.duration || duration),
          total: result.requests.total,
          bytes: result.throughput.average,
        });
      },
    );
  });
}

/**
 * Waits out the requests a load loop left in flight when its time was up: the probe is answered
 * after them, so the next case does not pay for this one.
 */
async function drained(server, path) {
  await new Promise((r) => setTimeout(r, 200));
  await get(server, path);
}

/** An answer with its times left out: the two backends record different times for one history */
function timeless(value) {
  return JSON.stringify(value, (key, field) => (/At$/.test(key) ? undefined : field));
}

/** Samples what PostgreSQL's sessions on the bench database do, until stopped */
function sampleActivity(url, name) {
  const client = new pg.Client({ connectionString: url });
  const counts = new Map();
  let samples = 0;
  let running = true;
  const done = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query(
        // A session "idle in transaction" waits for its client: the replica's next query.
        `select case when state = 'active' then coalesce(wait_event_type || ':' || wait_event, 'on CPU')
           else state end as what, count(*)::int as n
         from pg_stat_activity
         where datname = $1 and pid <> pg_backend_pid() and state in ('active', 'idle in transaction')
         group by 1`,
        [name],
      );
      // pg_locks: what the holder of the append lock (kysely-store.ts, key 0x77_61796201) is doing.
      const holders = await client.query(
        `select 'append lock holder ' || case when a.state = 'active'
             then coalesce(a.wait_event_type || ':' || a.wait_event, 'on CPU') else a.state end as what,
           count(*)::int as n
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
         where l.locktype = 'advisory' and l.granted and l.classid = 119 and l.objid = 1635344897
           and l.objsubid = 1 and a.datname = $1
         group by 1`,
        [name],
      );
      samples++;
      for (const row of [...rows, ...holders.rows]) counts.set(row.what, (counts.get(row.what) ?? 0) + row.n);
      await new Promise((r) => setTimeout(r, 20));
    }
    await client.end();
  })();
  return async () => {
    running = false;
    await done;
    return [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([what, n]) => `${what} ${(n / samples).toFixed(1)}`)
      .join(", ");
  };
}

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const fmt = (r) => `p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.rps.toFixed(0)} req/s`;

try {
  database = await freshDatabase();
  const pgState = join(workDir, "pg-a");
  const sqliteState = join(workDir, "sqlite");
  mkdirSync(pgState);
  mkdirSync(sqliteState);
  const filledPg = await fill({ stateDir: pgState, databaseUrl: database.url });
  log(`history on postgres: ${filledPg.runs} runs of ${serviceCount} services in ${filledPg.ms} ms`);
  if (readsToo) {
    const filledSqlite = await fill({ stateDir: sqliteState });
    log(`history on sqlite: ${filledSqlite.runs} runs in ${filledSqlite.ms} ms`);
  }

  // The status read in bulk against the way it was read before: each service's runs and live
  // releases, two queries a service. In process, on the store, so only the reading differs.
  const perService = readsToo
    ? await statusReadings({ stateDir: pgState, databaseUrl: database.url })
    : undefined;
  if (perService !== undefined)
    log(
      `status in process on postgres: per service ${perService.perService.toFixed(0)} ms, ` +
        `in bulk ${perService.bulk.toFixed(0)} ms (median of 3; same answer)`,
    );

  const [onPg, onSqlite] = await Promise.all([
    serve(pgState, database.url, "postgres"),
    readsToo ? serve(sqliteState, undefined, "sqlite") : undefined,
  ]);

  const one = serviceName(Math.min(serviceCount - 1, 10));
  // A build from before paging answers every service at once, and has no `next`.
  const paged = "next" in (await get(onPg, "/v1/status?service=" + one));
  const cases = [
    // The floor: an authorised request that reads no database, through the same server and client.
    { name: "whoami", path: "/v1/whoami", floor: true },
    // The first page, of the default size (30 services)
    { name: "status", path: "/v1/status" },
    ...(paged ? [{ name: "status?limit=100", path: "/v1/status?limit=100&after=svc-0500" }] : []),
    { name: "status?service", path: `/v1/status?service=${one}` },
    { name: "runs?limit=200", path: "/v1/runs?limit=200" },
    { name: "runs?service", path: `/v1/runs?service=${one}` },
  ];
  // Same history, same answers: a bench of a wrong answer would be no bench.
  for (const { path } of readsToo ? cases : []) {
    const [a, b] = await Promise.all([get(onPg, path), get(onSqlite, path)]);
    if (timeless(a) !== timeless(b)) throw new Error(`postgres and sqlite answer ${path} differently`);
  }
  // The status comes in pages of services; followed to the end, they hold every service once.
  const listed = new Set();
  for (let after = ""; after !== null && after !== undefined;) {
    const query = paged ? `?limit=100${after === "" ? "" : `&after=${after}`}` : "";
    const page = await get(onPg, `/v1/status${query}`);
    for (const service of page.services) listed.add(service.name);
    after = page.next;
  }
  if (listed.size !== serviceCount) throw new Error(`status pages list ${listed.size} services`);

  const reads = [];
  for (const request of cases.filter(
    (c) => readsToo && (readCases === undefined || readCases.includes(c.name)),
  )) {
    // Warm both (JIT, caches), then measure them one after the other.
    await hammer(onPg, request, 1);
    await drained(onPg, request.path);
    await hammer(onSqlite, request, 1);
    await drained(onSqlite, request.path);
    const pgResult = await hammer(onPg, request, seconds);
    await drained(onPg, request.path);
    const sqliteResult = await hammer(onSqlite, request, seconds);
    await drained(onSqlite, request.path);
    reads.push({ name: request.name, floor: request.floor === true, pg: pgResult, sqlite: sqliteResult });
    log(
      `GET ${request.path}: postgres ${fmt(pgResult)} | sqlite ${fmt(sqliteResult)} | ` +
        `p99 ratio ${(pgResult.p99 / sqliteResult.p99).toFixed(2)}, ${(pgResult.bytes / pgResult.rps / 1024).toFixed(0)} KiB/answer`,
    );
  }
  if (onSqlite !== undefined) await stopServer(onSqlite);
  if (intakeSeconds === 0) {
    process.stdout.write(
      `api reads (${serviceCount} services × 3 stages, ${connections} clients, postgres vs sqlite): ` +
        reads.map((r) => `${r.name} p99 ${r.pg.p99}/${r.sqlite.p99} ms`).join(", ") +
        `; goal p99 < ${GOAL_P99_MS} ms ${reads.every((r) => r.floor || r.pg.p99 < GOAL_P99_MS) ? "met" : "NOT met"}\n`,
    );
    await stopServer(onPg);
    await database.drop();
    process.exit(0);
  }

  // Intake: services whose one stage deploys to a Kubernetes context that does not exist, so
  // each run fails fast and the engine does not deploy thousands of apps. One service shipped
  // over and over (every ship writes the same service and artifact rows, so ships wait on each
  // other whatever the store does), then ships spread over INTAKE_SERVICES services, as a team's are.
  const shipOf = (name) => {
    const serviceDir = join(workDir, name);
    mkdirSync(serviceDir);
    const spec = {
      apiVersion: "waybill.dev/v1",
      kind: "Service",
      metadata: { name },
      build: { command: "true", image: `127.0.0.1:5999/${name}`, artifact: "image.json" },
      run: { port: 8080, health: "/healthz" },
      stages: [{ name: "dev", target: "kube:nowhere", test: false, gate: false }],
    };
    writeFileSync(join(serviceDir, "waybill.yaml"), JSON.stringify(spec));
    const digest = digestOf(0xfeed);
    return JSON.stringify({
      spec,
      serviceDir,
      image: `127.0.0.1:5999/${name}@${digest}`,
      digest,
      version: "1.0.0",
    });
  };
  const ship = { method: "POST", path: "/v1/ships", body: shipOf("intake") };
  const spread = {
    method: "POST",
    path: "/v1/ships",
    bodies: Array.from({ length: INTAKE_SERVICES }, (_, i) => shipOf(`intake-${i}`)),
  };
  // The first ship of a service records its stage's policy; the bench measures the ships after it.
  for (const body of [ship.body, ...spread.bodies]) {
    const first = await fetch(onPg.url + ship.path, {
      method: "POST",
      headers: { authorization: `Bearer ${onPg.token}`, "content-type": "application/json" },
      body,
    });
    if (first.status !== 201) throw new Error(`POST /v1/ships: ${first.status} ${await first.text()}`);
  }

  const pgStateB = join(workDir, "pg-b");
  mkdirSync(pgStateB);
  cpSync(join(pgState, "keys"), join(pgStateB, "keys"), { recursive: true });
  const replicaB = await serve(pgStateB, database.url, "postgres-b");

  /** Ships against the given replicas at once: their summed req/s, with where the time went */
  async function intake(replicas, label, request = ship) {
    const cpuBefore = replicas.map((r) => cpuSeconds(r.child.pid));
    const sample = sampleActivity(database.url, database.name);
    const results = await Promise.all(replicas.map((r) => hammer(r, request, intakeSeconds)));
    const activity = await sample();
    const cpu = replicas.map(
      (r, i) => `${(((cpuSeconds(r.child.pid) - cpuBefore[i]) / intakeSeconds) * 100).toFixed(0)}%`,
    );
    const rps = results.reduce((sum, r) => sum + r.rps, 0);
    for (const r of replicas) await drained(r, "/v1/status?service=intake");
    log(
      `POST /v1/ships, ${label}: ${rps.toFixed(0)} req/s (${results.map(fmt).join("; ")}); replica CPU ${cpu.join(" + ")}; ` +
        `postgres sessions (mean active): ${activity}`,
    );
    return rps;
  }
  // Both replicas warm (JIT, modules loaded on a first ship, pools) before a round is measured:
  // a cold second replica spent its round starting up.
  await Promise.all([onPg, replicaB].map((r) => hammer(r, ship, 1)));
  for (const r of [onPg, replicaB]) await drained(r, "/v1/status?service=intake");
  // One, two, then one again: the queue of runs grows as the bench ships, so the second
  // single-replica round shows any drift that growth brings.
  const oneToo = intakeCases.includes("one");
  const spreadToo = intakeCases.includes("spread");
  const single = oneToo ? await intake([onPg], "1 replica") : Number.NaN;
  const both = oneToo ? await intake([onPg, replicaB], "2 replicas") : Number.NaN;
  const singleAgain = oneToo ? await intake([onPg], "1 replica again") : Number.NaN;
  const spreadSingle = spreadToo
    ? await intake([onPg], `${INTAKE_SERVICES} services, 1 replica`, spread)
    : Number.NaN;
  const spreadBoth = spreadToo
    ? await intake([onPg, replicaB], `${INTAKE_SERVICES} services, 2 replicas`, spread)
    : Number.NaN;
  const spreadSingleAgain = spreadToo
    ? await intake([onPg], `${INTAKE_SERVICES} services, 1 replica again`, spread)
    : Number.NaN;
  const spreadOne = (spreadSingle + spreadSingleAgain) / 2;
  // The two-replica round against the single rounds on either side of it, so drift cancels.
  const oneReplica = (single + singleAgain) / 2;
  const runs = await get(onPg, "/v1/runs?service=intake&limit=1000");
  const states = {};
  for (const run of runs.runs) states[run.state] = (states[run.state] ?? 0) + 1;
  log(`intake runs (newest 1000) by state: ${JSON.stringify(states)}`);

  const read = (name) => reads.find((r) => r.name === name);
  const floor = reads.find((r) => r.floor);
  const measured = reads.filter((r) => !r.floor);
  const met = measured.every((r) => r.pg.p99 < GOAL_P99_MS);
  process.stdout.write(
    `api (${serviceCount} services × 3 stages, ${connections} clients, postgres vs sqlite): ` +
      (!readsToo
        ? "intake only"
        : `floor (whoami, no database) p99 ${floor.pg.p99} ms, ${floor.pg.rps.toFixed(0)} req/s; ` +
          measured
            .map(
              (r) =>
                `${r.name} p99 ${r.pg.p99}/${r.sqlite.p99} ms (${(r.pg.p99 / r.sqlite.p99).toFixed(2)}×)`,
            )
            .join(", ") +
          `; p99 < ${GOAL_P99_MS} ms ${
            met
              ? "met"
              : `NOT met (${measured
                  .filter((r) => r.pg.p99 >= GOAL_P99_MS)
                  .map((r) => r.name)
                  .join(", ")})`
          }`) +
      (!oneToo
        ? ""
        : `; ships ${single.toFixed(0)} req/s on 1 replica, ${both.toFixed(0)} on 2, ${singleAgain.toFixed(0)} on 1 again ` +
          `(${(both / oneReplica).toFixed(2)}× the single rounds' mean, ${both > oneReplica * 1.1 ? "raised" : "NOT raised"})`) +
      (!spreadToo
        ? ""
        : `; ${INTAKE_SERVICES} services: ${spreadSingle.toFixed(0)}, ${spreadBoth.toFixed(0)}, ${spreadSingleAgain.toFixed(0)} ` +
          `(${(spreadBoth / spreadOne).toFixed(2)}×, ${spreadBoth > spreadOne * 1.1 ? "raised" : "NOT raised"})`) +
      (!readsToo
        ? ""
        : `; status ${read("status").pg.rps.toFixed(0)} req/s, read in bulk ${perService.bulk.toFixed(0)} ms vs ${perService.perService.toFixed(0)} ms per service`) +
      "\n",
  );
  for (const server of [...servers]) await stopServer(server);
} finally {
  for (const server of servers) await stopServer(server).catch(() => undefined);
  await database?.drop().catch(() => undefined);
}
