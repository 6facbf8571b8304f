// What a ship costs beyond the work it carries: Waybill's own share of the lead time. Ships, as a
// user does (`waybill ship --json`, the embedded SQLite store, a local target), a tiny Node HTTP
// service whose build, start-up and test are near zero through dev → staging → production with
// every approval automatic, and then the example service (examples/hello, copied to a temp folder,
// production's approval made automatic so nothing waits for a person). From the runs' events
// (task.started / task.succeeded / run.* timestamps) it splits the lead time into what is not
// Waybill's — the build command, the app's start-up until healthy (timed by hand: spawn the same
// command and poll it until it answers), the test load's configured warm-up and windows — and
// Waybill's own: the CLI, the engine between tasks, the store, signing, SBOM, the health wait's
// polling, the proxy switch and its drain. There is no peer tool that ships; the peer is the same
// steps done by hand (build, start, curl until healthy, load for the configured time).
//
// Each service folder is a git repository with one commit, as a user's is, so the CLI asks git
// what the build came from and the control plane records and signs its provenance.
//
//   node bench/ship-overhead.bench.mjs [dist-dir …]      (or WAYBILL_BENCH_DIST)
//   BENCH_CASES=tiny,hello  BENCH_RUNS=1
//   BENCH_CPU_PROF=<dir>   start the control plane under `node --cpu-prof`, profiles into <dir>
//
// Given two or more build folders (a before and an after), it ships with each in turn, the order
// reversed every round, so that both see the same machine; one summary line for each.
//
// Goal: under 1 s of Waybill's own time per stage (tiny service), and under 5% of the lead time
// for the example service. One summary line on stdout; the breakdown goes to stderr.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { loadavg, cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { freePort } from "./lib/net.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distArgs =
  process.argv.length > 2
    ? process.argv.slice(2)
    : process.env.WAYBILL_BENCH_DIST === undefined
      ? [undefined]
      : [process.env.WAYBILL_BENCH_DIST];
// Each build: its name in the output, the CLI a user runs, and the bundle that must exist.
const builds = distArgs.map((distArg) => {
  const cli =
    distArg === undefined
      ? join(repoRoot, "bin", "waybill.js")
      : join(resolve(repoRoot, distArg), "bundle", "main.js");
  const bundle = distArg === undefined ? join(repoRoot, "dist", "bundle", "main.js") : cli;
  if (!existsSync(bundle)) {
    process.stderr.write(`ship-overhead: ${bundle} is missing: build first (npm run build)\n`);
    process.exit(2);
  }
  return { name: distArg ?? "dist", cli };
});
const cases = (process.env.BENCH_CASES ?? "tiny,hello").split(",").filter(Boolean);
const runs = Number(process.env.BENCH_RUNS ?? 1);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write("ship-overhead: BENCH_RUNS must be a whole number above 0\n");
  process.exit(2);
}
const cpuProfDir = process.env.BENCH_CPU_PROF;
const log = (line) => process.stderr.write(`${line}\n`);

const TINY_SERVER = `import { createServer } from "node:http";
const server = createServer((request, response) => response.end("ok\\n"));
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

// Near zero everywhere: a build that copies one file, a server that answers at once, a few
// requests of load, no drain to wait for.
const TINY_SPEC = `apiVersion: waybill.dev/v1
kind: Service
metadata:
  name: tiny
build:
  command: node build.mjs
  artifact: dist/
run:
  command: node dist/server.mjs
  health: /healthz
  healthTimeout: 5s
  runtime: node
test:
  load:
    rate: 20
    duration: 250ms
    maxDuration: 250ms
    warmup: 0
    requests: [{ path: / }]
slo:
  objectives:
    - sli: error_rate
      pass: [{ criteria: ["<1"] }]
  total_score: { pass: "90%", warning: "75%" }
stages:
  - name: dev
    approval: { pass: automatic, warning: automatic }
  - name: staging
    strategy: blue-green
    approval: { pass: automatic, warning: automatic }
  - name: production
    strategy: blue-green
    approval: { pass: automatic, warning: automatic }
`;

// A fixed identity and no system or global configuration: the commit is the same on every machine.
function commitAll(dir) {
  const env = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "bench",
    GIT_AUTHOR_EMAIL: "bench@example.com",
    GIT_COMMITTER_NAME: "bench",
    GIT_COMMITTER_EMAIL: "bench@example.com",
  };
  writeFileSync(join(dir, ".gitignore"), "dist/\n");
  for (const args of [
    ["init", "-q"],
    ["add", "-A"],
    ["commit", "-q", "-m", "the service"],
  ]) {
    const result = spawnSync("git", ["-C", dir, ...args], { env, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`git ${args[0]} in ${dir} failed: ${result.stderr}`);
  }
}

function makeTiny(root) {
  const dir = join(root, "tiny");
  mkdirSync(join(dir, "src"), { recursive: true });
  writeFileSync(join(dir, "src", "server.mjs"), TINY_SERVER);
  writeFileSync(
    join(dir, "build.mjs"),
    `import { copyFileSync, mkdirSync } from "node:fs";\nmkdirSync("dist", { recursive: true });\ncopyFileSync("src/server.mjs", "dist/server.mjs");\n`,
  );
  writeFileSync(join(dir, "waybill.yaml"), TINY_SPEC);
  commitAll(dir);
  return dir;
}

function makeHello(root) {
  const dir = join(root, "hello");
  cpSync(join(repoRoot, "examples", "hello"), dir, {
    recursive: true,
    filter: (source) => !source.includes(`${join("hello", "dist")}`),
  });
  const specPath = join(dir, "waybill.yaml");
  const spec = readFileSync(specPath, "utf8");
  const automatic = spec.replace(
    "approval: { pass: manual, warning: manual }",
    "approval: { pass: automatic, warning: automatic }",
  );
  if (automatic === spec) throw new Error("examples/hello/waybill.yaml: production's approval line changed");
  writeFileSync(specPath, automatic);
  commitAll(dir);
  return dir;
}

function waybill(cli, stateDir, args, options = {}) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [cli, "--state", stateDir, ...args], {
    encoding: "utf8",
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  return { ms: performance.now() - started, ...result };
}

function answers(port, path) {
  return new Promise((done) => {
    const request = get({ host: "127.0.0.1", port, path, timeout: 500 }, (response) => {
      response.resume();
      done(response.statusCode === 200);
    });
    request.on("error", () => done(false));
    request.on("timeout", () => request.destroy());
  });
}

// The by-hand cost of what the app itself takes: spawn the run command and poll it (every 2 ms)
// until its health path answers 200.
async function startUntilHealthy(dir, command, health) {
  const [program, ...args] = command.split(" ");
  const port = await freePort();
  const started = performance.now();
  const child = spawn(program === "node" ? process.execPath : program, args, {
    cwd: dir,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: "ignore",
  });
  try {
    const deadline = started + 10_000;
    while (performance.now() < deadline) {
      if (await answers(port, health)) return performance.now() - started;
      await new Promise((wake) => setTimeout(wake, 2));
    }
    throw new Error(`${command} did not answer ${health} within 10 s`);
  } finally {
    child.kill("SIGKILL");
  }
}

function timedBuild(dir, command) {
  const [program, ...args] = command.split(" ");
  const started = performance.now();
  const result = spawnSync(program === "node" ? process.execPath : program, args, {
    cwd: dir,
    stdio: "ignore",
  });
  if (result.status !== 0) throw new Error(`${command} failed in ${dir}`);
  return performance.now() - started;
}

const ms = (iso) => Date.parse(iso);
const typeOf = (event) => event.type.replace(/^dev\.waybill\./, "");

// Splits one run's events into tasks and the gaps between them; each task's outside part is what
// the app or the configured load took within it.
function runBreakdown(run, events, outside) {
  const started = ms(run.startedAt ?? events[0].time);
  const finished = ms(run.finishedAt ?? events.at(-1).time);
  const tasks = [];
  const open = new Map();
  for (const event of events) {
    const type = typeOf(event);
    if (type === "task.started") open.set(event.data.task, ms(event.time));
    if (type === "task.succeeded" || type === "task.failed") {
      const begun = open.get(event.data.task);
      if (begun === undefined) continue;
      open.delete(event.data.task);
      tasks.push({ task: event.data.task, ms: ms(event.time) - begun });
    }
  }
  // One new instance per deploy task; the instance.* events carry the instance, not the run.
  const deploys = tasks.filter((task) => task.task === "deploy").length;
  const measured = events.filter((event) => typeOf(event) === "test.measured");
  const windows = measured.reduce((sum, event) => sum + (event.data.windows ?? 1), 0);
  // The load as the test task timed it (its window), against the configured time above.
  const windowMs = measured.reduce(
    (sum, event) => sum + (ms(event.data.window.end) - ms(event.data.window.start)),
    0,
  );
  const notOurs = {
    appStartMs: deploys * outside.appStartMs,
    loadMs: measured.length * outside.warmupMs + windows * outside.durationMs,
  };
  const taskMs = tasks.reduce((sum, task) => sum + task.ms, 0);
  const totalMs = finished - started;
  return {
    stage: run.stage,
    totalMs,
    tasks,
    betweenTasksMs: totalMs - taskMs,
    windowMs,
    ...notOurs,
    ownMs: totalMs - notOurs.appStartMs - notOurs.loadMs,
  };
}

async function shipOnce(name, dir, spec, cli) {
  const stateDir = mkdtempSync(join(tmpdir(), `waybill-ship-bench-state-`));
  try {
    // Start the control plane first, so the ship is timed as a user's second and later ships are;
    // under BENCH_CPU_PROF, started by hand the way the CLI starts it, with a CPU profile.
    if (cpuProfDir !== undefined) {
      spawn(
        process.execPath,
        ["--cpu-prof", "--cpu-prof-dir", cpuProfDir, cli, "--state", stateDir, "serve", "--port", "0"],
        {
          detached: true,
          stdio: "ignore",
        },
      ).unref();
    }
    let warm = waybill(cli, stateDir, ["status"]);
    for (let tries = 0; cpuProfDir !== undefined && warm.status !== 0 && tries < 40; tries += 1) {
      await new Promise((wake) => setTimeout(wake, 250));
      warm = waybill(cli, stateDir, ["status"]);
    }
    if (warm.status !== 0) throw new Error(`waybill status failed:\n${warm.stderr}`);
    const buildMs = timedBuild(dir, spec.buildCommand);
    const appStartMs = await startUntilHealthy(dir, spec.runCommand, spec.health);
    const shipped = waybill(cli, stateDir, ["ship", dir, "--json"]);
    if (shipped.status !== 0) {
      const why = `waybill ship ${name} exited ${shipped.status}:\n${shipped.stderr}${shipped.stdout}`;
      if (/load generator could not keep its rate/.test(shipped.stdout)) {
        throw new BusyMachine(`the load generator could not keep its rate (a busy machine)`);
      }
      throw new Error(why);
    }
    const { runs: shipRuns } = JSON.parse(shipped.stdout);
    const stages = [];
    let firstRunStart = Infinity;
    let lastRunEnd = 0;
    for (const summary of shipRuns) {
      const fetched = waybill(cli, stateDir, ["run", summary.id, "--json"]);
      if (fetched.status !== 0) throw new Error(`waybill run ${summary.id} failed:\n${fetched.stderr}`);
      const run = JSON.parse(fetched.stdout);
      const events = run.events;
      const queued = events.find((event) => typeOf(event) === "run.queued");
      firstRunStart = Math.min(firstRunStart, ms(queued?.time ?? run.startedAt));
      lastRunEnd = Math.max(lastRunEnd, ms(run.finishedAt ?? events.at(-1).time));
      if (run.state !== "succeeded")
        throw new Error(`run ${run.id} (${run.stage}) ended ${run.state}: ${run.reason}`);
      stages.push(runBreakdown(run, events, { appStartMs, ...spec }));
    }
    const leadMs = shipped.ms;
    const notOursMs = buildMs + stages.reduce((sum, stage) => sum + stage.appStartMs + stage.loadMs, 0);
    const ownMs = leadMs - notOursMs;
    return {
      name,
      leadMs,
      buildMs,
      appStartMs,
      // The CLI's own part: start-up, build output, hashing the artifact, the API call, following
      // the runs; everything of the ship command outside the runs.
      cliMs: leadMs - (lastRunEnd - firstRunStart),
      stages,
      notOursMs,
      ownMs,
      byHandMs: notOursMs,
    };
  } finally {
    waybill(cli, stateDir, ["down"]);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

class BusyMachine extends Error {}

// A machine too busy for the load generator to keep its rate makes the test inconclusive and the
// ship fail: that round is shipped again, up to twice, rather than ending the bench.
async function shipWithRetries(name, dir, spec, build) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await shipOnce(name, dir, spec, build.cli);
    } catch (error) {
      if (!(error instanceof BusyMachine) || attempt === 3) throw error;
      log(`${name}${label(build)}: ${error.message}; shipping again`);
    }
  }
}

const specs = {
  tiny: {
    make: makeTiny,
    buildCommand: "node build.mjs",
    runCommand: "node dist/server.mjs",
    health: "/healthz",
    warmupMs: 0,
    durationMs: 250,
  },
  hello: {
    make: makeHello,
    buildCommand: "node build.mjs",
    runCommand: "node dist/server.js",
    health: "/healthz",
    warmupMs: 500,
    durationMs: 4000,
  },
};

const root = mkdtempSync(join(tmpdir(), "waybill-ship-bench-"));
const fmt = (value) => `${(value / 1000).toFixed(2)} s`;
const label = (build) => (builds.length > 1 ? ` [${build.name}]` : "");
// By build, then by case: the median round.
const results = new Map(builds.map((build) => [build, {}]));
try {
  for (const name of cases) {
    const spec = specs[name];
    if (spec === undefined) throw new Error(`unknown case ${name} (tiny, hello)`);
    const dir = spec.make(root);
    const rounds = new Map(builds.map((build) => [build, []]));
    for (let round = 0; round < runs; round += 1) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const build of order) {
        const result = await shipWithRetries(name, dir, spec, build);
        rounds.get(build).push(result);
        log(
          `${name}${label(build)} round ${round + 1}: lead ${fmt(result.leadMs)}, not Waybill's ${fmt(result.notOursMs)} ` +
            `(build ${fmt(result.buildMs)}, app start ${Math.round(result.appStartMs)} ms × deploys, load), ` +
            `Waybill's own ${fmt(result.ownMs)} (${((100 * result.ownMs) / result.leadMs).toFixed(1)}%), ` +
            `CLI outside runs ${fmt(result.cliMs)}`,
        );
        for (const stage of result.stages) {
          log(
            `  ${stage.stage}: run ${fmt(stage.totalMs)}, own ${fmt(stage.ownMs)} ` +
              `(app start ${Math.round(stage.appStartMs)} ms, load ${Math.round(stage.loadMs)} ms configured, ${Math.round(stage.windowMs)} ms in the test's window, between tasks ${Math.round(stage.betweenTasksMs)} ms)`,
          );
          log(`    ${stage.tasks.map((task) => `${task.task} ${Math.round(task.ms)} ms`).join(", ")}`);
        }
      }
    }
    for (const build of builds) {
      const sorted = rounds.get(build).sort((a, b) => a.ownMs - b.ownMs);
      results.get(build)[name] = sorted[Math.floor(sorted.length / 2)];
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

const load = loadavg()
  .map((value) => value.toFixed(2))
  .join(" ");
for (const build of builds) {
  const { tiny, hello } = results.get(build);
  const parts = [];
  let met = true;
  if (tiny) {
    const perStage = tiny.ownMs / tiny.stages.length;
    met &&= perStage < 1000;
    parts.push(
      `tiny: Waybill's own ${fmt(perStage)}/stage of lead ${fmt(tiny.leadMs)} (by hand ${fmt(tiny.byHandMs)}; goal < 1 s/stage)`,
    );
  }
  if (hello) {
    const share = (100 * hello.ownMs) / hello.leadMs;
    met &&= share < 5;
    parts.push(`hello: own ${fmt(hello.ownMs)} = ${share.toFixed(1)}% of ${fmt(hello.leadMs)} (goal < 5%)`);
  }
  process.stdout.write(
    `ship-overhead${label(build)}: ${parts.join("; ")}; ${met ? "goal met" : "goal NOT met"} [${cpus().length} cores, load ${load}]\n`,
  );
}
