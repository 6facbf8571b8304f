// Waybill's stage proxy (`StageProxy`) against Debian's nginx as a reverse proxy (`proxy_pass`
// with upstream keep-alive), on the same loopback backend, driven by the same load tool.
//
// Three paths on each side, and the backend alone ("direct") so that each side's added latency
// is its own:
//   plain:  one upstream (Waybill: stable only; nginx: proxy_pass to one server)
//   canary: a 10 % split to a second upstream (Waybill: candidateWeight 10; nginx: weights 9:1)
//   pinned: every request carries `x-waybill-route: candidate` on the canary routes (Waybill's
//           pin header; nginx: a map from that header to the candidate upstream)
// The backend is one node:http process listening on two ports (stable and candidate). While the
// load runs, every Waybill proxy has a traffic window open, as it has while the gate measures, so
// the HdrHistogram recording path is paid for; the window's counts also check the canary split.
//
// Placement: the load tool and the backend on CPU 0, the proxy under test (node or nginx, one
// worker) on CPU 1, when the machine has two CPUs and taskset. Load tool: wrk (`-t1 -c10
// --latency`) when installed, else autocannon (a devDependency) in a process of its own. Rounds
// alternate: direct first, then per path Waybill and nginx, the order reversing every round.
// Per-round figures go to stderr; one summary line to stdout: medians over the rounds of the
// per-round throughput ratio (Waybill / nginx) and added p50/p99 (the path's minus direct's in
// the same round).
//
//   node bench/proxy-vs-nginx.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=10
//   BENCH_CPU_PROF=<dir> writes a CPU profile of Waybill's proxy process there
//   BENCH_LOAD_TOOL=autocannon uses autocannon even where wrk is installed
//   BENCH_COMPARE=<dist-dir> adds a third side to the same rounds: the StageProxy of that build (a
//     process of its own, on the proxy CPU), and prints both builds' CPU per request per path with
//     the median of the per-round ratios: a change measured before/after on the same moments of a
//     busy machine, which separate runs cannot give
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { canPin, freePort, onCpu, waitForPort } from "./lib/net.mjs";
import { benchArguments } from "./lib/args.mjs";

const { stop, positiveInteger } = benchArguments("proxy-vs-nginx");

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const proxyEntry = join(distDir, "runtime", "proxy.js");
const compareDir =
  process.env.BENCH_COMPARE === undefined ? null : resolve(repoRoot, process.env.BENCH_COMPARE);
const compareEntry = compareDir === null ? null : join(compareDir, "runtime", "proxy.js");
const seconds = positiveInteger("BENCH_SECONDS", 5);
const rounds = positiveInteger("BENCH_ROUNDS", 3);
const connections = positiveInteger("BENCH_CONNECTIONS", 10);
const profileDir = process.env.BENCH_CPU_PROF === undefined ? null : resolve(process.env.BENCH_CPU_PROF);
const THROUGHPUT_GOAL = 0.9;
const ADDED_P50_GOAL_MS = 0.2;
const CANARY_WEIGHT = 10;
const PIN = { name: "x-waybill-route", value: "candidate" };

if (!existsSync(proxyEntry)) stop(`no ${proxyEntry}: build first (npm run build) or set WAYBILL_BENCH_DIST`);
if (compareEntry !== null && !existsSync(compareEntry)) stop(`no ${compareEntry}: build BENCH_COMPARE first`);
if (spawnSync("nginx", ["-v"]).status !== 0) stop("nginx is not installed (apt-get install -y nginx-light)");
const useWrk = process.env.BENCH_LOAD_TOOL !== "autocannon" && spawnSync("wrk", ["-v"]).error === undefined;
const autocannonBin = useWrk
  ? undefined
  : join(dirname(createRequire(import.meta.url).resolve("autocannon/package.json")), "autocannon.js");

const pinned = canPin();
const [LOAD_CPU, PROXY_CPU] = pinned ? ["0", "1"] : [undefined, undefined];
const dir = mkdtempSync(join(tmpdir(), "waybill-proxy-bench-"));
const children = [];

// Interrupted, the bench still stops what it started.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
}

function start(cpu, argv, stdio = ["ignore", "ignore", "inherit"]) {
  const [command, ...args] = onCpu(cpu, argv);
  const child = spawn(command, args, { stdio });
  children.push(child);
  return child;
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolveExit) => child.once("exit", resolveExit));
}

/** Runs the load tool to completion on the load CPU; throughput and latency percentiles in ms */
function load(url, header) {
  const argv = useWrk
    ? [
        "wrk",
        "-t1",
        `-c${connections}`,
        `-d${seconds}s`,
        "--latency",
        ...(header === undefined ? [] : ["-H", `${header.name}: ${header.value}`]),
        url,
      ]
    : [
        process.execPath,
        autocannonBin,
        "--json",
        "-c",
        String(connections),
        "-d",
        String(seconds),
        ...(header === undefined ? [] : ["-H", `${header.name}=${header.value}`]),
        url,
      ];
  const [command, ...args] = onCpu(LOAD_CPU, argv);
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`${argv[0]} exited ${code}: ${stderr.trim()}`));
        return;
      }
      try {
        resolveRun(useWrk ? parseWrk(stdout) : parseAutocannon(stdout));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function parseWrk(stdout) {
  const throughput = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const requests = /(\d+) requests in/.exec(stdout);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(stdout);
  if (throughput === null || requests === null || p50 === null || p99 === null)
    throw new Error(`unexpected wrk output:\n${stdout}`);
  if (/Non-2xx|Socket errors/.test(stdout)) process.stderr.write(`wrk reported errors:\n${stdout}`);
  const ms = ([, value, unit]) => Number(value) * { us: 0.001, ms: 1, s: 1000 }[unit];
  return {
    throughput: Number(throughput[1]),
    requests: Number(requests[1]),
    p50: ms(p50),
    p99: ms(p99),
  };
}

function parseAutocannon(stdout) {
  const result = JSON.parse(stdout);
  if (result.errors > 0 || result.non2xx > 0)
    process.stderr.write(`autocannon: ${result.errors} errors, ${result.non2xx} non-2xx answers\n`);
  return {
    throughput: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

const backendSource = `
const { createServer } = require("node:http");
const body = Buffer.from("hello world\\n");
const answer = (request, response) => {
  response.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  response.end(body);
};
for (const port of process.argv.slice(1)) {
  const server = createServer(answer);
  server.keepAliveTimeout = 60_000;
  server.listen(Number(port), "127.0.0.1");
}
`;

// The proxy process: a plain stage (stable only) and a canary stage (stable and candidate at
// CANARY_WEIGHT %), each with a traffic window open. On stdin, "window" closes the windows and
// opens new ones, answering with the closed ones' request counts per instance as a JSON line.
function proxySource(backendPorts, entry) {
  return `
import { StageProxy } from ${JSON.stringify(pathToFileURL(entry).href)};
import { createInterface } from "node:readline";
const [plainPort, canaryPort] = process.argv.slice(2).map(Number);
const ports = { i1: ${backendPorts.stable}, i2: ${backendPorts.candidate} };
const upstream = (id) => ({ version: id === "i1" ? "1" : "2", port: ports[id] });
const plain = new StageProxy({ service: "bench", stage: "plain" }, { stable: "i1", candidate: null, candidateWeight: 0 }, upstream);
const canary = new StageProxy({ service: "bench", stage: "canary" }, { stable: "i1", candidate: "i2", candidateWeight: ${CANARY_WEIGHT} }, upstream);
await plain.listen(plainPort);
await canary.listen(canaryPort);
let windows = [plain.meter.openWindow(), canary.meter.openWindow()];
createInterface({ input: process.stdin }).on("line", () => {
  const counts = windows.map((window) => {
    window.close();
    return Object.fromEntries(Object.entries(window.read()).map(([id, traffic]) => [id, traffic.requests]));
  });
  windows = [plain.meter.openWindow(), canary.meter.openWindow()];
  process.stdout.write(JSON.stringify(counts) + "\\n");
});
process.once("SIGTERM", () => process.exit(0));
`;
}

function nginxConf(backendPorts, ports) {
  return `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000000;
  upstream stable { server 127.0.0.1:${backendPorts.stable}; keepalive 32; }
  upstream candidate { server 127.0.0.1:${backendPorts.candidate}; keepalive 32; }
  upstream split { server 127.0.0.1:${backendPorts.stable} weight=${100 - CANARY_WEIGHT}; server 127.0.0.1:${backendPorts.candidate} weight=${CANARY_WEIGHT}; keepalive 32; }
  map $http_x_waybill_route $pool { candidate candidate; stable stable; default split; }
  proxy_http_version 1.1; proxy_set_header Connection "";
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme;
  server { listen 127.0.0.1:${ports.plain}; location / { proxy_pass http://stable; } }
  server { listen 127.0.0.1:${ports.canary}; location / { proxy_pass http://$pool; } }
}
`;
}

/**
 * CPU seconds a process's threads have used so far: the scheduler's nanosecond count
 * (`schedstat`), where `/proc/<pid>/stat` counts 10 ms ticks, too coarse for short rounds.
 */
function cpuSeconds(pid) {
  return readdirSync(`/proc/${pid}/task`).reduce(
    (sum, thread) =>
      sum + Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, "utf8").split(" ")[0]) / 1e9,
    0,
  );
}

/** A load run on a proxy, with the proxy process's CPU time per request in µs */
async function measured(pid, url, header) {
  const before = cpuSeconds(pid);
  const result = await load(url, header);
  return {
    ...result,
    cpuMicros: ((cpuSeconds(pid) - before) * 1e6) / result.requests,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

try {
  const backendPorts = {
    stable: await freePort(),
    candidate: await freePort(),
  };
  start(LOAD_CPU, [
    process.execPath,
    "-e",
    backendSource,
    String(backendPorts.stable),
    String(backendPorts.candidate),
  ]);
  await waitForPort(backendPorts.stable);
  await waitForPort(backendPorts.candidate);

  const waybillPorts = { plain: await freePort(), canary: await freePort() };
  writeFileSync(join(dir, "proxy.mjs"), proxySource(backendPorts, proxyEntry));
  const profile = (name) =>
    profileDir === null ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", name];
  const waybill = start(
    PROXY_CPU,
    [
      process.execPath,
      ...profile("stage-proxy.cpuprofile"),
      join(dir, "proxy.mjs"),
      String(waybillPorts.plain),
      String(waybillPorts.canary),
    ],
    ["pipe", "pipe", "inherit"],
  );
  // The build compared against: the same proxy program on its own ports (its windows stay open).
  const comparePorts = compareEntry === null ? null : { plain: await freePort(), canary: await freePort() };
  let compare = null;
  if (comparePorts !== null) {
    writeFileSync(join(dir, "compare-proxy.mjs"), proxySource(backendPorts, compareEntry));
    compare = start(PROXY_CPU, [
      process.execPath,
      ...profile("compare-proxy.cpuprofile"),
      join(dir, "compare-proxy.mjs"),
      String(comparePorts.plain),
      String(comparePorts.canary),
    ]);
  }
  const windowAnswers = createInterface({ input: waybill.stdout })[Symbol.asyncIterator]();
  /** The Waybill proxies' requests per instance since the last call, [plain, canary] */
  const windowCounts = async () => {
    waybill.stdin.write("window\n");
    const { value } = await windowAnswers.next();
    return JSON.parse(value);
  };

  const nginxPorts = { plain: await freePort(), canary: await freePort() };
  writeFileSync(join(dir, "nginx.conf"), nginxConf(backendPorts, nginxPorts));
  const nginx = start(PROXY_CPU, ["nginx", "-p", dir, "-c", join(dir, "nginx.conf")]);
  const pids = {
    waybill: waybill.pid,
    nginx: nginx.pid,
    ...(compare === null ? {} : { compare: compare.pid }),
  };
  for (const port of [
    ...Object.values(waybillPorts),
    ...Object.values(nginxPorts),
    ...Object.values(comparePorts ?? {}),
  ])
    await waitForPort(port);

  const url = (port) => `http://127.0.0.1:${port}/`;
  const paths = {
    plain: {
      waybill: url(waybillPorts.plain),
      nginx: url(nginxPorts.plain),
      ...(comparePorts === null ? {} : { compare: url(comparePorts.plain) }),
      header: undefined,
    },
    canary: {
      waybill: url(waybillPorts.canary),
      nginx: url(nginxPorts.canary),
      ...(comparePorts === null ? {} : { compare: url(comparePorts.canary) }),
      header: undefined,
    },
    pinned: {
      waybill: url(waybillPorts.canary),
      nginx: url(nginxPorts.canary),
      ...(comparePorts === null ? {} : { compare: url(comparePorts.canary) }),
      header: PIN,
    },
  };
  const sides = compare === null ? ["waybill", "nginx"] : ["waybill", "compare", "nginx"];
  const direct = url(backendPorts.stable);

  // Unmeasured: JIT compilation and the first connections are not the steady cost.
  await load(direct);
  for (const path of Object.values(paths)) for (const side of sides) await load(path[side], path.header);
  const runs = [];
  const candidateShares = [];
  for (let round = 0; round < rounds; round++) {
    const run = { direct: await load(direct) };
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const [name, path] of Object.entries(paths)) {
      for (const side of order) {
        if (side === "waybill" && name === "canary") await windowCounts();
        run[`${side} ${name}`] = await measured(pids[side], path[side], path.header);
        if (side === "waybill" && name === "canary") {
          const [, canary] = await windowCounts();
          const total = (canary.i1 ?? 0) + (canary.i2 ?? 0);
          candidateShares.push(total === 0 ? 0 : (100 * (canary.i2 ?? 0)) / total);
        }
      }
    }
    runs.push(run);
    const line = Object.entries(run)
      .map(
        ([name, { throughput, p50, p99, cpuMicros }]) =>
          `${name} ${throughput.toFixed(0)}/s ${p50.toFixed(3)}/${p99.toFixed(3)} ms` +
          (cpuMicros === undefined ? "" : ` ${cpuMicros.toFixed(1)} µs CPU`),
      )
      .join("; ");
    process.stderr.write(
      `round ${round + 1} (req/s, p50/p99, proxy CPU per request): ${line}; waybill canary share ${candidateShares.at(-1).toFixed(1)} %\n`,
    );
  }

  const perRound = (fn) => median(runs.map(fn));
  const summary = Object.keys(paths).map((name) => {
    const w = (run) => run[`waybill ${name}`];
    const n = (run) => run[`nginx ${name}`];
    return {
      name,
      ratio: perRound((run) => w(run).throughput / n(run).throughput),
      waybillRps: perRound((run) => w(run).throughput),
      nginxRps: perRound((run) => n(run).throughput),
      waybillAddedP50: perRound((run) => w(run).p50 - run.direct.p50),
      nginxAddedP50: perRound((run) => n(run).p50 - run.direct.p50),
      waybillAddedP99: perRound((run) => w(run).p99 - run.direct.p99),
      nginxAddedP99: perRound((run) => n(run).p99 - run.direct.p99),
      p50OverNginx: perRound((run) => w(run).p50 - n(run).p50),
      waybillCpu: perRound((run) => w(run).cpuMicros),
      nginxCpu: perRound((run) => n(run).cpuMicros),
    };
  });
  const plain = summary[0];
  if (compare !== null) {
    const compared = Object.keys(paths).map((name) => {
      const w = (run) => run[`waybill ${name}`];
      const c = (run) => run[`compare ${name}`];
      return (
        `${name} ${perRound((run) => w(run).cpuMicros).toFixed(1)} vs ${perRound((run) => c(run).cpuMicros).toFixed(1)} µs ` +
        `(per-round ratio ${perRound((run) => w(run).cpuMicros / c(run).cpuMicros).toFixed(3)}×), ` +
        `throughput ${perRound((run) => w(run).throughput / c(run).throughput).toFixed(2)}×, ` +
        `vs nginx ${perRound((run) => c(run).throughput / run[`nginx ${name}`].throughput).toFixed(2)}×`
      );
    });
    process.stdout.write(
      `proxy-vs-nginx compare: proxy CPU per request, this build vs ${compareDir}: ${compared.join("; ")} ` +
        `(medians of ${rounds} rounds; "vs nginx" is the compared build's throughput ratio)\n`,
    );
  }
  const met = plain.ratio >= THROUGHPUT_GOAL && plain.p50OverNginx < ADDED_P50_GOAL_MS;
  const ms = (value) => value.toFixed(3);
  const parts = summary.map(
    (s) =>
      `${s.name} ${s.ratio.toFixed(2)}× (${s.waybillRps.toFixed(0)} vs ${s.nginxRps.toFixed(0)} req/s), ` +
      `added p50 ${ms(s.waybillAddedP50)} vs ${ms(s.nginxAddedP50)} ms, p99 ${ms(s.waybillAddedP99)} vs ${ms(s.nginxAddedP99)} ms, ` +
      `proxy CPU per request ${s.waybillCpu.toFixed(1)} vs ${s.nginxCpu.toFixed(1)} µs`,
  );
  const placement = pinned
    ? `${useWrk ? "wrk" : "autocannon"} and backend on CPU 0, proxy on CPU 1`
    : "no CPU pinning";
  process.stdout.write(
    `proxy-vs-nginx: ${parts.join("; ")}; direct ${perRound((run) => run.direct.throughput).toFixed(0)} req/s; ` +
      `waybill canary share ${median(candidateShares).toFixed(1)} % (set ${CANARY_WEIGHT} %) ` +
      `(goal plain ≥ ${THROUGHPUT_GOAL}× and p50 < nginx's + ${ADDED_P50_GOAL_MS} ms, here ${plain.p50OverNginx >= 0 ? "+" : ""}${ms(plain.p50OverNginx)} ms: ${met ? "met" : "NOT met"}; ` +
      `medians of ${rounds} alternating ${seconds} s rounds, ${connections} connections, ${placement}; ` +
      `${cpus().length} CPUs, node ${process.version}, load average ${loadavg()
        .map((value) => value.toFixed(2))
        .join(" ")})\n`,
  );
} finally {
  for (const child of children) child.kill();
  // A profiled process writes its profile on the way out.
  await Promise.all(children.map(exited));
  rmSync(dir, { recursive: true, force: true });
}
