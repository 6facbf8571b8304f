// What mutual TLS adds on the hop from a stage proxy to an instance: Waybill's stage proxy and TLS
// terminator against Debian's nginx configured as an mTLS reverse proxy, on the same loopback
// backend (a node:http server), with certificates from Waybill's mesh CA (ECDSA P-256, TLS 1.3).
//
// Four paths, the same shape on both sides, each proxy and each terminator a process of its own
// (as a mesh's sidecar is not its proxy's process), keep-alive on every hop:
//   waybill plain: stage proxy (node, plain upstream)            → backend
//   waybill mTLS:  stage proxy (node, https agent + client cert) → terminator-main (node, TLS 1.3,
//                  client certificate required and its SPIFFE ID checked, TCP splice) → backend
//   nginx plain:   nginx "front" (proxy_pass http)               → backend
//   nginx mTLS:    nginx "front" (proxy_pass https, proxy_ssl_certificate, proxy_ssl_verify,
//                  session reuse) → nginx "back", its own process (ssl_verify_client, proxy_pass
//                  http) → backend
// Each side's plain path is its own proxy without the terminator, so each added figure is that
// side's terminator hop plus its proxy's TLS. The one difference left is in Waybill's favour:
// nginx's back server parses and re-sends HTTP, where Waybill's terminator splices bytes
// (Debian's nginx ships its TCP stream module as a separate package, not installed here).
//
// Each path is driven in turn at the same fixed rate by the built-in open-model load generator (a
// fixed rate, not wrk's flat-out closed loop, so the figures are the cost at a load, not at
// saturation; latency counts from the scheduled send time); within a round each side's plain and
// mTLS paths run back to back, and the order reverses every round. Per round, the added p50 and
// p99 are each side's mTLS percentile minus its own plain one in that round, and the ratio is
// Waybill's added p99 over nginx's; the run reports the medians over rounds and the ratios'
// spread. CPU per 1,000 requests on an mTLS path is its proxy's and terminator's processes
// (Waybill) or both nginx processes. Goal: the median of Waybill's added p99 at most 1.2 × the
// median of nginx's, in the same run; no verdict when the plain paths' p99 varies between rounds
// by more than nginx's added p99 (a busy machine). The published mesh figures print beside them.
//
//   node bench/mtls-overhead.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_SECONDS=5 BENCH_ROUNDS=5 BENCH_RATE=1000
//   BENCH_CPU_PROF=<dir> also writes CPU profiles of the stage proxy and the terminator there
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const profileDir = process.env.BENCH_CPU_PROF === undefined ? null : resolve(process.env.BENCH_CPU_PROF);
const rate = Number(process.env.BENCH_RATE ?? 1000);
const WARMUP_MS = 1000;
const PUBLISHED =
  "published, each measured once elsewhere: Istio ambient +0.17 ms p90, Istio sidecar +2.65 ms p90, Linkerd +6 ms median at 2,000 rps";

function stop(message) {
  process.stderr.write(`mtls-overhead: ${message}\n`);
  process.exit(2);
}
if (spawnSync("nginx", ["-v"]).status !== 0) stop("nginx is not installed (apt-get install -y nginx-light)");

const { MeshCa } = await import(pathToFileURL(join(distDir, "security", "ca.js")).href);
const { runLoad } = await import(pathToFileURL(join(distDir, "loadgen", "index.js")).href);
const dir = mkdtempSync(join(tmpdir(), "waybill-mtls-bench-"));
const children = [];

function freePort() {
  return new Promise((resolvePort) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

async function waitForPort(port) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise((resolveOpen) => {
      const socket = createServer().listen(port, "127.0.0.1");
      socket.on("listening", () => socket.close(() => resolveOpen(false)));
      socket.on("error", () => resolveOpen(true));
    });
    if (open) return;
    await new Promise((wait) => setTimeout(wait, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

function start(argv, options = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "inherit"], ...options });
  children.push(child);
  return child;
}

const cpuProfile = (name) =>
  profileDir === null
    ? []
    : ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `${name}.cpuprofile`];

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolveExit) => child.once("exit", resolveExit));
}

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function writeFiles(name, issued) {
  writeFileSync(join(dir, `${name}.pem`), issued.certPem);
  writeFileSync(join(dir, `${name}.key`), issued.keyPem, { mode: 0o600 });
}

async function measure(url) {
  const result = await runLoad({
    target: url,
    model: "open",
    rate,
    durationMs: seconds * 1000,
    warmupMs: WARMUP_MS,
    connections: 10,
    requests: [{ method: "GET", path: "/" }],
  });
  if (result.errors > 0) process.stderr.write(`${result.errors} errors on ${url}\n`);
  if (result.generator.inconclusive !== null)
    process.stderr.write(`${url}: ${result.generator.inconclusive}\n`);
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests,
    inconclusive: result.generator.inconclusive !== null,
  };
}

try {
  const ca = await MeshCa.open(join(dir, "ca"), "waybill-bench.local");
  writeFileSync(join(dir, "ca.pem"), ca.caPem);
  const identity = (role) => ({
    trustDomain: ca.trustDomain,
    service: "bench",
    stage: "staging",
    role,
    ...(role === "instance" ? { instanceId: "i1" } : {}),
  });
  writeFiles("proxy", await ca.issue(identity("proxy")));
  writeFiles("instance", await ca.issue(identity("instance")));

  const backendPort = await freePort();
  start([
    process.execPath,
    "-e",
    `require("node:http").createServer((q, s) => s.end("hello world\\n")).listen(${backendPort}, "127.0.0.1")`,
  ]);
  await waitForPort(backendPort);

  const terminatorPort = await freePort();
  const terminator = start([
    process.execPath,
    ...cpuProfile("terminator"),
    join(distDir, "security", "terminator-main.js"),
    ...["--port", terminatorPort, "--upstream-port", backendPort].map(String),
    ...["--cert", join(dir, "instance.pem"), "--key", join(dir, "instance.key"), "--ca", join(dir, "ca.pem")],
    ...["--trust-domain", ca.trustDomain, "--service", "bench", "--stage", "staging"],
  ]);
  await waitForPort(terminatorPort);

  const [plainProxyPort, mtlsProxyPort] = [await freePort(), await freePort()];
  const proxyScript = join(dir, "proxies.mjs");
  writeFileSync(
    proxyScript,
    `import { StageProxy } from ${JSON.stringify(pathToFileURL(join(distDir, "runtime", "proxy.js")).href)};
const routes = { stable: "i1", candidate: null, candidateWeight: 0 };
const upstream = () => ({ version: "1", port: ${backendPort}, tlsPort: ${terminatorPort} });
const plain = new StageProxy({ service: "bench", stage: "staging" }, routes, upstream);
await plain.listen(${plainProxyPort});
const mtls = new StageProxy({ service: "bench", stage: "staging" }, routes, upstream);
mtls.setTls(${JSON.stringify({ certFile: join(dir, "proxy.pem"), keyFile: join(dir, "proxy.key"), caFile: join(dir, "ca.pem"), trustDomain: ca.trustDomain })});
await mtls.listen(${mtlsProxyPort});
process.once("SIGTERM", () => process.exit(0));
`,
  );
  const proxies = start([process.execPath, ...cpuProfile("proxy"), proxyScript]);
  await waitForPort(mtlsProxyPort);

  const [nginxPlain, nginxFront, nginxBack] = [await freePort(), await freePort(), await freePort()];
  const nginxConf = (name, servers) =>
    `daemon off; master_process off; worker_processes 1; pid ${dir}/${name}.pid; error_log ${dir}/${name}-error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000000;
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 32; }
${servers} }
`;
  writeFileSync(
    join(dir, "nginx-front.conf"),
    nginxConf(
      "nginx-front",
      `  upstream back { server 127.0.0.1:${nginxBack}; keepalive 32; }
  server { listen 127.0.0.1:${nginxPlain};
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:${nginxFront};
    location / { proxy_pass https://back; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate ${dir}/proxy.pem; proxy_ssl_certificate_key ${dir}/proxy.key;
      proxy_ssl_trusted_certificate ${dir}/ca.pem; proxy_ssl_verify on; proxy_ssl_name localhost;
      proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on; } }`,
    ),
  );
  writeFileSync(
    join(dir, "nginx-back.conf"),
    nginxConf(
      "nginx-back",
      `  server { listen 127.0.0.1:${nginxBack} ssl;
    ssl_certificate ${dir}/instance.pem; ssl_certificate_key ${dir}/instance.key; ssl_protocols TLSv1.3;
    ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    ),
  );
  const nginxBackProcess = start(["nginx", "-p", dir, "-c", join(dir, "nginx-back.conf")]);
  const nginx = start(["nginx", "-p", dir, "-c", join(dir, "nginx-front.conf")]);
  await waitForPort(nginxBack);
  await waitForPort(nginxFront);

  const paths = {
    "waybill plain": { url: `http://127.0.0.1:${plainProxyPort}/`, cpu: [proxies.pid] },
    "waybill mTLS": { url: `http://127.0.0.1:${mtlsProxyPort}/`, cpu: [proxies.pid, terminator.pid] },
    "nginx plain": { url: `http://127.0.0.1:${nginxPlain}/`, cpu: [nginx.pid] },
    "nginx mTLS": { url: `http://127.0.0.1:${nginxFront}/`, cpu: [nginx.pid, nginxBackProcess.pid] },
  };
  const results = Object.fromEntries(Object.keys(paths).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? Object.keys(paths) : Object.keys(paths).reverse();
    for (const name of order) {
      const { url, cpu } = paths[name];
      const before = cpu.map(cpuSeconds);
      const measured = await measure(url);
      const perProcess = cpu.map(
        // The CPU time covers the warm-up too, so it is divided by the requests sent in it as well.
        (pid, index) =>
          (1000 * (cpuSeconds(pid) - before[index])) / (measured.requests + (rate * WARMUP_MS) / 1000),
      );
      results[name].push({
        ...measured,
        cpuPer1k: perProcess.reduce((sum, each) => sum + each, 0),
        // The second hop's process alone: the terminator, or nginx's back server
        secondHopCpuPer1k: perProcess[1] ?? 0,
      });
      process.stderr.write(
        `round ${round + 1} ${name}: p50 ${measured.p50.toFixed(3)} ms, p99 ${measured.p99.toFixed(3)} ms, ${measured.requests} requests, ${results[name].at(-1).cpuPer1k.toFixed(3)} CPU s per 1k\n`,
      );
    }
  }
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  const addedPerRound = (who, field) =>
    results[`${who} mTLS`].map((run, round) => run[field] - results[`${who} plain`][round][field]);
  const [wP50, wP99, nP50, nP99] = [
    addedPerRound("waybill", "p50"),
    addedPerRound("waybill", "p99"),
    addedPerRound("nginx", "p50"),
    addedPerRound("nginx", "p99"),
  ];
  // A ratio only means something over a positive nginx figure; the goal holds either way when
  // Waybill's added p99 is at most 1.2 × nginx's. No verdict when the plain paths' own p99 moves
  // more from round to round (median absolute deviation) than the nginx figure the goal scales:
  // on a busy machine a difference of that size is noise, whichever way it points.
  const deviation = (values) => {
    const middle = median(values);
    return median(values.map((value) => Math.abs(value - middle)));
  };
  const noise = Math.max(
    deviation(results["waybill plain"].map((run) => run.p99)),
    deviation(results["nginx plain"].map((run) => run.p99)),
  );
  const resolvable = noise < Math.abs(median(nP99));
  const met = median(wP99) <= 1.2 * median(nP99);
  const verdict = resolvable
    ? met
      ? "met"
      : "NOT met"
    : `no verdict: the plain paths' p99 moves ${noise.toFixed(3)} ms between rounds, more than nginx's added p99`;
  const ratioText = (waybill, nginx) => (nginx > 0 ? `${(waybill / nginx).toFixed(2)}×` : "n/a");
  const roundRatios = wP99.flatMap((waybill, round) => (nP99[round] > 0 ? [waybill / nP99[round]] : []));
  const spread =
    roundRatios.length === 0
      ? "no round with a positive nginx figure"
      : `median ${median(roundRatios).toFixed(2)}×, spread ${Math.min(...roundRatios).toFixed(2)}–${Math.max(...roundRatios).toFixed(2)}× over the ${roundRatios.length} rounds where nginx's added p99 is positive`;
  const inconclusive = Object.values(results)
    .flat()
    .filter((run) => run.inconclusive).length;
  const ms = (values) => values.map((value) => value.toFixed(3)).join(" ");
  const cpu = (name, field = "cpuPer1k") => median(results[name].map((run) => run[field])).toFixed(3);
  process.stdout.write(
    `mtls-overhead (${rate} req/s open model, ${rounds} rounds × ${seconds}s; ${cpus().length} CPUs ${cpus()[0]?.model ?? ""}, ` +
      `node ${process.version}, load average ${loadavg()
        .map((value) => value.toFixed(2))
        .join(" ")} at the end)\n` +
      `  added p50 per round: waybill ${ms(wP50)} ms; nginx ${ms(nP50)} ms\n` +
      `  added p99 per round: waybill ${ms(wP99)} ms; nginx ${ms(nP99)} ms\n` +
      `  medians: added p50/p99 waybill ${median(wP50).toFixed(3)}/${median(wP99).toFixed(3)} ms, nginx ${median(nP50).toFixed(3)}/${median(nP99).toFixed(3)} ms\n` +
      `  added p99 ratio ${ratioText(median(wP99), median(nP99))} (goal ≤ 1.2×, ${verdict}); per-round ratios ${spread}\n` +
      (inconclusive === 0
        ? ""
        : `  ${inconclusive} of ${4 * rounds} measurements inconclusive: the load generator could not keep its rate (a busy machine)\n`) +
      `  CPU s per 1k requests (medians): waybill plain ${cpu("waybill plain")}, mTLS ${cpu("waybill mTLS")} (proxy + terminator, of which terminator ${cpu("waybill mTLS", "secondHopCpuPer1k")}); ` +
      `nginx plain ${cpu("nginx plain")}, mTLS ${cpu("nginx mTLS")} (front + back, of which back ${cpu("nginx mTLS", "secondHopCpuPer1k")})\n  ${PUBLISHED}\n`,
  );
} finally {
  for (const child of children) child.kill();
  // A profiled process writes its profile on the way out.
  await Promise.all(children.map(exited));
  rmSync(dir, { recursive: true, force: true });
}
