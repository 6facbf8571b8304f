// What mutual TLS adds on the hop from a stage proxy to an instance: Waybill's stage proxy and TLS
// terminator against Debian's nginx configured as an mTLS reverse proxy (a front server with
// proxy_ssl_certificate, a back server with ssl_verify_client), on the same loopback backend.
//
// Four paths, each driven in turn at the same fixed rate by the built-in open-model load generator
// (a fixed rate, not wrk's flat-out closed loop, so the figures are the cost at a load, not at
// saturation; latency counts from the scheduled send time), rounds alternated:
//   waybill plain: proxy → backend            waybill mTLS: proxy → terminator → backend
//   nginx plain:   nginx → backend            nginx mTLS:   nginx → nginx (TLS, client cert) → backend
// The added p50 and p99 are each mTLS path's percentile minus its plain path's (medians of rounds); CPU per 1,000
// requests on the mTLS path is the proxy's and terminator's processes for Waybill, nginx's for nginx.
// The published mesh figures print beside them for reference. Goal: Waybill's added p99 at most
// 1.2 × nginx's in the same run.
//
//   node bench/mtls-overhead.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_RATE=1000
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const rate = Number(process.env.BENCH_RATE ?? 1000);
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
    warmupMs: 1000,
    connections: 10,
    requests: [{ method: "GET", path: "/" }],
  });
  if (result.errors > 0) process.stderr.write(`${result.errors} errors on ${url}\n`);
  if (result.generator.inconclusive !== null)
    process.stderr.write(`${url}: ${result.generator.inconclusive}\n`);
  return { p50: result.latency.p50, p99: result.latency.p99, requests: result.requests };
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
`,
  );
  const proxies = start([process.execPath, proxyScript]);
  await waitForPort(mtlsProxyPort);

  const [nginxPlain, nginxFront, nginxBack] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, "nginx.conf"),
    `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000000;
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 32; }
  upstream back { server 127.0.0.1:${nginxBack}; keepalive 32; }
  server { listen 127.0.0.1:${nginxPlain};
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:${nginxFront};
    location / { proxy_pass https://back; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate ${dir}/proxy.pem; proxy_ssl_certificate_key ${dir}/proxy.key;
      proxy_ssl_trusted_certificate ${dir}/ca.pem; proxy_ssl_verify on; proxy_ssl_name localhost;
      proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on; } }
  server { listen 127.0.0.1:${nginxBack} ssl;
    ssl_certificate ${dir}/instance.pem; ssl_certificate_key ${dir}/instance.key; ssl_protocols TLSv1.3;
    ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  const nginx = start(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")]);
  await waitForPort(nginxFront);

  const paths = {
    "waybill plain": { url: `http://127.0.0.1:${plainProxyPort}/`, cpu: [proxies.pid] },
    "waybill mTLS": { url: `http://127.0.0.1:${mtlsProxyPort}/`, cpu: [proxies.pid, terminator.pid] },
    "nginx plain": { url: `http://127.0.0.1:${nginxPlain}/`, cpu: [nginx.pid] },
    "nginx mTLS": { url: `http://127.0.0.1:${nginxFront}/`, cpu: [nginx.pid] },
  };
  const results = Object.fromEntries(Object.keys(paths).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? Object.keys(paths) : Object.keys(paths).reverse();
    for (const name of order) {
      const { url, cpu } = paths[name];
      const before = cpu.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
      const measured = await measure(url);
      const used = cpu.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - before;
      results[name].push({ ...measured, cpuPer1k: (1000 * used) / measured.requests });
      process.stderr.write(
        `round ${round + 1} ${name}: p50 ${measured.p50.toFixed(3)} ms, p99 ${measured.p99.toFixed(3)} ms, ${measured.requests} requests, ${((1000 * used) / measured.requests).toFixed(3)} CPU s per 1k\n`,
      );
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const pick = (name, field) => median(results[name].map((run) => run[field]));
  const added = (who, field) => pick(`${who} mTLS`, field) - pick(`${who} plain`, field);
  const [wP50, wP99, nP50, nP99] = [
    added("waybill", "p50"),
    added("waybill", "p99"),
    added("nginx", "p50"),
    added("nginx", "p99"),
  ];
  const ratio = nP99 > 0 ? wP99 / nP99 : Number.POSITIVE_INFINITY;
  process.stdout.write(
    `mtls-overhead (${rate} req/s open model, ${rounds} rounds × ${seconds}s, medians): added p50/p99 waybill ${wP50.toFixed(3)}/${wP99.toFixed(3)} ms, ` +
      `nginx ${nP50.toFixed(3)}/${nP99.toFixed(3)} ms; added p99 ratio ${ratio.toFixed(2)}× (goal ≤ 1.2×, ${ratio <= 1.2 ? "met" : "NOT met"}); ` +
      `CPU s per 1k mTLS requests: waybill proxy+terminator ${pick("waybill mTLS", "cpuPer1k").toFixed(3)}, nginx ${pick("nginx mTLS", "cpuPer1k").toFixed(3)}; ${PUBLISHED}\n`,
  );
} finally {
  for (const child of children) child.kill();
  rmSync(dir, { recursive: true, force: true });
}
