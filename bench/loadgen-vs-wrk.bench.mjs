// Throughput of Waybill's built-in load generator against Debian's wrk: the same loopback
// server, connection count and duration, closed model at full speed, rounds alternating so
// that drift on a shared machine hits both. Prints one summary line on stdout; per-round
// figures go to stderr.
//
//   node bench/loadgen-vs-wrk.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=10 BENCH_THREADS=1 BENCH_SERVER=node|nginx
//   BENCH_FLOOR=1 adds a bare `net` client (Node's floor: no parsing, timing or tallies) to each round
//
// BENCH_THREADS is both wrk's -t and the generator's `workers`. With two or more CPUs and
// taskset available, the server runs on CPU 0 and the client under test (wrk, or the generator
// in its own process) on the other CPUs (CPU 1 with two), so neither steals from the other.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort, waitForPort } from "./lib/net.mjs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchArguments } from "./lib/args.mjs";

const { stop, positiveInteger } = benchArguments("loadgen-vs-wrk");

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const loadgenEntry = join(distDir, "loadgen", "index.js");
const seconds = positiveInteger("BENCH_SECONDS", 5);
const rounds = positiveInteger("BENCH_ROUNDS", 3);
const connections = positiveInteger("BENCH_CONNECTIONS", 10);
const threads = positiveInteger("BENCH_THREADS", 1);
if (threads > connections) stop("BENCH_THREADS must not exceed BENCH_CONNECTIONS (wrk refuses it)");
const serverKind = process.env.BENCH_SERVER ?? "node";
const withFloor = process.env.BENCH_FLOOR === "1";
const goal = 1.0;

const canPin = availableParallelism() >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const serverCpu = "0";
const clientCpu = availableParallelism() > 2 ? `1-${availableParallelism() - 1}` : "1";
/** argv, run on the given CPU when pinning is possible */
function onCpu(cpu, argv) {
  return canPin ? ["taskset", "-c", cpu, ...argv] : argv;
}

const gnuTime = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

/** Runs a client to completion: its stdout, and the CPU seconds it used when GNU time can tell */
function runClient(argv, { timeCpu = true } = {}) {
  const timed = gnuTime === undefined || !timeCpu ? argv : [gnuTime, "-f", "cpu-seconds %U %S", ...argv];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(...splitArgv(onCpu(clientCpu, timed)), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
    child.on("error", reject);
    child.on("close", (code) => {
      const cpu = /cpu-seconds ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      const cpuSeconds = cpu === null ? undefined : Number(cpu[1]) + Number(cpu[2]);
      const ownStderr = cpu === null ? stderr : stderr.slice(0, cpu.index);
      if (ownStderr.trim() !== "") process.stderr.write(ownStderr);
      if (code === 0) resolvePromise({ stdout, cpuSeconds });
      else reject(new Error(`${argv.join(" ")} exited ${code}`));
    });
  });
}

const nodeServerSource = `
import { createServer } from "node:http";
const body = Buffer.from("hello world\\n");
const server = createServer((request, response) => {
  response.writeHead(200, { "Content-Type": "text/plain", "Content-Length": body.length });
  response.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

function startNodeServer() {
  const child = spawn(
    ...splitArgv(onCpu(serverCpu, [process.execPath, "--input-type=module", "-e", nodeServerSource])),
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolvePromise, reject) => {
    child.on("error", reject);
    child.stdout.setEncoding("utf8").once("data", (text) => {
      resolvePromise({ port: Number(text.trim()), describe: "node:http server", stop: () => child.kill() });
    });
  });
}

async function startNginx() {
  if (spawnSync("nginx", ["-v"]).status !== 0)
    stop("BENCH_SERVER=nginx needs nginx (apt-get install -y nginx-light)");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "waybill-bench-nginx-"));
  writeFileSync(
    join(dir, "nginx.conf"),
    `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000000;
  server { listen 127.0.0.1:${port}; location / { return 200 "hello world\\n"; } } }
`,
  );
  const child = spawn(...splitArgv(onCpu(serverCpu, ["nginx", "-p", dir, "-c", join(dir, "nginx.conf")])), {
    stdio: "inherit",
  });
  await waitForPort(port);
  return {
    port,
    describe: "nginx (1 worker)",
    stop: () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function splitArgv(argv) {
  return [argv[0], argv.slice(1)];
}

async function runWrk(url, durationSeconds) {
  const { stdout, cpuSeconds } = await runClient([
    "wrk",
    `-t${threads}`,
    `-c${connections}`,
    `-d${durationSeconds}s`,
    url,
  ]);
  const throughput = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const requests = /(\d+) requests in/.exec(stdout);
  if (throughput === null || requests === null) throw new Error(`unexpected wrk output:\n${stdout}`);
  if (/Non-2xx|Socket errors/.test(stdout)) process.stderr.write(`wrk reported errors:\n${stdout}`);
  return { throughput: Number(throughput[1]), requests: Number(requests[1]), cpuSeconds };
}

// Reports the CPU time of the run itself: Node's own start-up (~0.1 s) is not the generator's cost.
// A second run of one request measures the fixed cost of a run (merging, and whatever start-up
// the measured run will pay again), so that the cost per request can also be given without it.
// The first pays the one-off module loading; it is left out, as the generator keeps its threads
// warm between runs (before that, each run started its threads again, and the second run of one
// request pays that too, as the measured run did).
const generatorSource = `
const [entry, target, connections, durationMs, workers] = process.argv.slice(1);
const { runLoad } = await import(entry);
const cpuSince = (before) => { const { user, system } = process.cpuUsage(before); return (user + system) / 1e6; };
const oneRequest = { target, model: "closed", connections: Number(workers), durationMs: 1000, maxRequests: 1, workers: Number(workers) };
await runLoad(oneRequest);
const fixedFrom = process.cpuUsage();
await runLoad(oneRequest);
const fixedCpuSeconds = cpuSince(fixedFrom);
const before = process.cpuUsage();
const result = await runLoad({
  target, model: "closed", connections: Number(connections), durationMs: Number(durationMs), warmupMs: 0,
  workers: Number(workers),
});
process.stdout.write(JSON.stringify({ result, cpuSeconds: cpuSince(before), fixedCpuSeconds }));
`;

// Node's floor (BENCH_FLOOR=1): the least any Node client with public APIs can cost a request here.
// Connections, a request written as one ready Buffer with socket.write, reads into one reused
// buffer through onread, a response counted once its known byte count has arrived; no parsing,
// timing or tallies. Its size is learned from one exchange first (fixed-length answers only).
const floorSource = `
import { connect } from "node:net";
const [host, port, connections, durationMs] = process.argv.slice(1);
const request = Buffer.from("GET / HTTP/1.1\\r\\nHost: " + host + ":" + port + "\\r\\n\\r\\n");
const buffer = Buffer.allocUnsafe(64 * 1024);
const cpuSince = (before) => { const { user, system } = process.cpuUsage(before); return (user + system) / 1e6; };
const size = await new Promise((resolveSize, reject) => {
  let text = "";
  const socket = connect({ host, port: Number(port) }, () => socket.write(request));
  socket.setEncoding("latin1").on("error", reject).on("data", (chunk) => {
    text += chunk;
    const end = text.indexOf("\\r\\n\\r\\n");
    const length = /content-length: *(\\d+)/i.exec(text);
    if (end >= 0 && length !== null && text.length >= end + 4 + Number(length[1])) {
      socket.destroy();
      resolveSize(end + 4 + Number(length[1]));
    }
  });
});
let requests = 0;
let running = true;
const sockets = [];
const before = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < Number(connections); i++) {
  let received = 0;
  const socket = connect({
    host, port: Number(port), noDelay: true,
    onread: { buffer, callback: (bytes) => {
      received += bytes;
      if (received < size) return true;
      received -= size;
      requests++;
      if (running) socket.write(request);
      return true;
    } },
  });
  socket.write(request);
  sockets.push(socket);
}
setTimeout(() => {
  running = false;
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSince(before);
  for (const socket of sockets) socket.destroy();
  process.stdout.write(JSON.stringify({ throughput: requests / seconds, requests, cpuSeconds }));
}, Number(durationMs));
`;

async function runFloor(target) {
  const { hostname, port } = new URL(target);
  const { stdout } = await runClient(
    [
      process.execPath,
      "--input-type=module",
      "-e",
      floorSource,
      hostname,
      port,
      String(connections),
      String(seconds * 1000),
    ],
    { timeCpu: false },
  );
  return JSON.parse(stdout);
}

async function runWaybill(target) {
  const { stdout } = await runClient(
    [
      process.execPath,
      "--input-type=module",
      "-e",
      generatorSource,
      pathToFileURL(loadgenEntry).href,
      target,
      String(connections),
      String(seconds * 1000),
      String(threads),
    ],
    { timeCpu: false },
  );
  const { result, cpuSeconds, fixedCpuSeconds } = JSON.parse(stdout);
  if (result.errors > 0)
    process.stderr.write(`waybill reported ${result.errors} errors of ${result.requests}\n`);
  return {
    throughput: result.throughput,
    requests: result.requests,
    cpuSeconds,
    runningCpuSeconds: Math.max(0, cpuSeconds - fixedCpuSeconds),
  };
}

/** Client CPU time per request in µs; the least of the rounds, as with throughput */
function cpuPerRequest(runs, field = "cpuSeconds") {
  const costs = runs.filter((r) => r[field] !== undefined).map((r) => (r[field] * 1e6) / r.requests);
  return costs.length === 0 ? undefined : Math.min(...costs);
}

if (!existsSync(loadgenEntry))
  stop(`no ${loadgenEntry}: build first (npm run build) or set WAYBILL_BENCH_DIST`);
if (spawnSync("wrk", ["-v"]).error !== undefined) stop("wrk is not installed (apt-get install -y wrk)");

const server = serverKind === "nginx" ? await startNginx() : await startNodeServer();
try {
  const target = `http://127.0.0.1:${server.port}`;
  // Let the server settle (JIT, page cache) before anything is counted.
  await runWrk(`${target}/`, 2);
  const wrk = [];
  const waybill = [];
  const floor = [];
  for (let round = 1; round <= rounds; round++) {
    wrk.push(await runWrk(`${target}/`, seconds));
    waybill.push(await runWaybill(target));
    if (withFloor) floor.push(await runFloor(target));
    const [w, o] = [wrk.at(-1), waybill.at(-1)];
    const floorNote = withFloor
      ? `, node floor ${floor.at(-1).throughput.toFixed(0)} req/s ` +
        `(${((floor.at(-1).cpuSeconds * 1e6) / floor.at(-1).requests).toFixed(1)} µs/request)`
      : "";
    process.stderr.write(
      `round ${round}: wrk ${w.throughput.toFixed(0)} req/s, waybill ${o.throughput.toFixed(0)} req/s${floorNote}\n`,
    );
  }
  // Best of each: on a shared machine interference only ever lowers a figure.
  const bestWrk = Math.max(...wrk.map((r) => r.throughput));
  const bestWaybill = Math.max(...waybill.map((r) => r.throughput));
  const ratio = bestWaybill / bestWrk;
  const [wrkCpu, waybillCpu] = [cpuPerRequest(wrk), cpuPerRequest(waybill)];
  const cpuNote =
    wrkCpu === undefined || waybillCpu === undefined
      ? ""
      : `; client CPU per request: waybill ${waybillCpu.toFixed(1)} µs ` +
        `(${cpuPerRequest(waybill, "runningCpuSeconds").toFixed(1)} µs without a run's fixed cost), wrk ${wrkCpu.toFixed(1)} µs`;
  const floorSummary = withFloor
    ? `; node floor (bare net client, 1 thread) ${Math.max(...floor.map((r) => r.throughput)).toFixed(0)} req/s, ` +
      `${cpuPerRequest(floor).toFixed(1)} µs per request`
    : "";
  const placement = canPin ? `server on CPU ${serverCpu}, client on CPU ${clientCpu}` : "no CPU pinning";
  process.stdout.write(
    `loadgen-vs-wrk: waybill ${bestWaybill.toFixed(0)} req/s, wrk ${bestWrk.toFixed(0)} req/s, ratio ${ratio.toFixed(2)}× ` +
      `(goal ≥ ${goal}×: ${ratio >= goal ? "met" : "NOT met"}; best of ${rounds} alternating ${seconds} s rounds, ` +
      `${threads} thread${threads === 1 ? "" : "s"} each, ${connections} connections, closed model, ${server.describe}, ${placement}${cpuNote}${floorSummary})\n`,
  );
} finally {
  server.stop();
}
