// What mutual TLS adds on the hop from a stage proxy to an instance: Waybill's stage proxy and TLS
// terminator against Debian's nginx configured as an mTLS reverse proxy, on the same loopback
// backend (a node:http server), with certificates from Waybill's mesh CA (ECDSA P-256, TLS 1.3).
//
// Four paths, the same shape on both sides, every proxy and terminator a process of its own (as a
// mesh's sidecar is not its proxy's process, and so each path's CPU is its own), keep-alive on
// every hop:
//   waybill plain: stage proxy (node, plain upstream)            → backend
//   waybill mTLS:  stage proxy (node, https agent + client cert) → terminator-main (node, TLS 1.3,
//                  client certificate required and its SPIFFE ID checked, TCP splice) → backend
//   nginx plain:   nginx (proxy_pass http)                       → backend
//   nginx mTLS:    nginx "front" (proxy_pass https, proxy_ssl_certificate, proxy_ssl_verify,
//                  session reuse) → nginx "back", its own process (ssl_verify_client, proxy_pass
//                  http) → backend
// Each side's plain path is its own proxy without the terminator, so each added figure is that
// side's terminator hop plus its proxy's TLS. The one difference left is in Waybill's favour:
// nginx's back server parses and re-sends HTTP, where Waybill's terminator splices bytes
// (Debian's nginx ships its TCP stream module as a separate package).
// When that package (libnginx-mod-stream) is installed, a third side runs in the same rounds, the
// native terminator: Waybill's stage proxies (plain, and mTLS as above) with nginx's `stream`
// module in the terminator's place (TLS 1.3, client certificate required, the client's subject
// mapped to the upstream and anything else refused, a TCP splice to the backend):
//   native plain:  stage proxy (node, plain upstream)            → backend
//   native mTLS:   stage proxy (node, https agent + client cert) → nginx stream (one worker) → backend
// It is judged against nginx's added p99 like Waybill's side, and against Waybill's Node
// terminator round by round (native − Node added p99, with its interval).
//
// The paired method of the gate: a side's plain and mTLS paths are driven at the same time by the
// built-in open-model generator, arrivals interleaved request by request (the generator's
// `sides`), each path at the same fixed rate on connections of its own, so both see the same
// moments of the machine and a pause of the machine lands on both; a side's added p50/p99 is its
// mTLS percentile minus its plain one in the same window. The two sides take turns, the order
// reversing every round. Per round, d = Waybill's added p99 − 1.2 × nginx's; the goal holds when
// the median of d over the rounds is at most 0. The verdict comes from a distribution-free
// interval of that median (order statistics, at least 90 %): met when the whole interval is at
// most 0, not met when it is all above, and no verdict when the rounds disagree; a round where the
// generator could not keep its rate is left out. CPU per 1,000
// requests on an mTLS path is its proxy's and terminator's processes (Waybill) or both nginx
// processes. The published mesh figures print beside them.
//
//   node bench/mtls-overhead.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_SECONDS=5 BENCH_ROUNDS=9 BENCH_RATE=1000 (requests a second on each path)
//   BENCH_SERVER_CPUS=1 BENCH_GENERATOR_CPUS=0: pin every server process of both sides alike
//     (taskset -c), and the generator apart; the affinities are printed. Default: no pinning.
//   BENCH_CPU_PROF=<dir> writes CPU profiles of the stage proxies and the terminator there
//   BENCH_TRACE_GC=1 counts the garbage collections of the stage proxies and the terminator
//   BENCH_NODE_FLAGS="--max-semi-space-size=16" gives the proxies and the terminator Node flags, to try some
//   BENCH_NATIVE=0 leaves the native side out even when nginx's stream module is installed
//   BENCH_COMPARE=<dist-dir> adds a third side in the same rounds: the terminator of that build (the
//     same proxies), so a change of the terminator is compared before/after on the same moments;
//     it prints both terminators' CPU per 1k requests and the per-round difference with its interval
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { freePort, waitForPort } from "./lib/net.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const profileDir = process.env.BENCH_CPU_PROF === undefined ? null : resolve(process.env.BENCH_CPU_PROF);
const traceGc = process.env.BENCH_TRACE_GC === "1";
const extraNodeFlags = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter((flag) => flag !== "");
const rate = Number(process.env.BENCH_RATE ?? 1000);
const serverCpus = process.env.BENCH_SERVER_CPUS;
const generatorCpus = process.env.BENCH_GENERATOR_CPUS;
const compareDir =
  process.env.BENCH_COMPARE === undefined ? null : resolve(repoRoot, process.env.BENCH_COMPARE);
/** Where Debian puts nginx's dynamic stream module (package libnginx-mod-stream) */
const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
const native = process.env.BENCH_NATIVE !== "0" && existsSync(STREAM_MODULE);
const WARMUP_MS = 1000;
/** Waybill's added p99 may be this many times nginx's */
const GOAL = 1.2;
/** The least coverage of the interval of the median the verdict comes from */
const COVERAGE = 0.9;
const PUBLISHED =
  "published, each measured once elsewhere: Istio ambient +0.17 ms p90, Istio sidecar +2.65 ms p90, Linkerd +6 ms median at 2,000 rps";

function stop(message) {
  process.stderr.write(`mtls-overhead: ${message}\n`);
  process.exit(2);
}
if (spawnSync("nginx", ["-v"]).status !== 0) stop("nginx is not installed (apt-get install -y nginx-light)");
for (const [name, value] of [
  ["BENCH_SECONDS", seconds],
  ["BENCH_ROUNDS", rounds],
  ["BENCH_RATE", rate],
]) {
  if (!Number.isFinite(value) || value <= 0) stop(`${name} must be a positive number`);
}
for (const [name, list] of [
  ["BENCH_SERVER_CPUS", serverCpus],
  ["BENCH_GENERATOR_CPUS", generatorCpus],
]) {
  if (list !== undefined && !/^\d+([,-]\d+)*$/.test(list)) stop(`${name} takes a CPU list such as 1 or 0-1`);
}

const { MeshCa } = await import(pathToFileURL(join(distDir, "security", "ca.js")).href);
const { runLoad } = await import(pathToFileURL(join(distDir, "loadgen", "index.js")).href);
const dir = mkdtempSync(join(tmpdir(), "waybill-mtls-bench-"));
const children = [];

/** A server process, pinned like every other server process when pinning is asked for */
function start(argv, { gcLog } = {}) {
  const pinned = serverCpus === undefined ? argv : ["taskset", "-c", serverCpus, ...argv];
  const stdout = gcLog === undefined ? "ignore" : openSync(gcLog, "w");
  const child = spawn(pinned[0], pinned.slice(1), { stdio: ["ignore", stdout, "inherit"] });
  children.push(child);
  return child;
}

/** Node's flags for a Waybill server process: a CPU profile, a GC trace on stdout */
function nodeFlags(name) {
  return [
    ...(profileDir === null
      ? []
      : ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `${name}.cpuprofile`]),
    ...(traceGc ? ["--trace-gc"] : []),
    ...extraNodeFlags,
  ];
}
const gcLogOf = (name) => (traceGc ? join(dir, `${name}.gc.log`) : undefined);

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolveExit) => child.once("exit", resolveExit));
}

/**
 * A process's time on a CPU, all its threads, from the scheduler's nanosecond count: /proc/<pid>/stat
 * counts in 10 ms ticks, coarse beside the 0.5–1 CPU s a path uses in a round
 */
function cpuSeconds(pid) {
  return readdirSync(`/proc/${pid}/task`).reduce(
    (sum, thread) =>
      sum + Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, "utf8").split(" ")[0]) / 1e9,
    0,
  );
}

function affinity(pid) {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?";
}

/** Collections and their pauses, from a `--trace-gc` log */
function gcSummary(file) {
  const pauses = { scavenge: [], other: [] };
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match =
      /: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)\b.*?MB, ([\d.]+) \/ ([\d.]+) ms/.exec(line);
    if (match === null) continue;
    pauses[match[1] === "Scavenge" ? "scavenge" : "other"].push(Number(match[2]));
  }
  const describe = (list) =>
    list.length === 0 ? "0" : `${list.length} (longest ${Math.max(...list).toFixed(2)} ms)`;
  return `${describe(pauses.scavenge)} scavenges, ${describe(pauses.other)} mark-compacts`;
}

function writeFiles(name, issued) {
  writeFileSync(join(dir, `${name}.pem`), issued.certPem);
  writeFileSync(join(dir, `${name}.key`), issued.keyPem, { mode: 0o600 });
}

/** A side's plain and mTLS paths driven at once, arrivals interleaved request by request */
async function measurePair(plainUrl, mtlsUrl) {
  const result = await runLoad({
    target: plainUrl,
    model: "open",
    rate,
    durationMs: seconds * 1000,
    warmupMs: WARMUP_MS,
    connections: 10,
    requests: [{ method: "GET", path: "/" }],
    sides: [
      { name: "plain", headers: {}, target: plainUrl },
      { name: "mtls", headers: {}, target: mtlsUrl },
    ],
  });
  const of = (name) => {
    const side = result.sides[name];
    if (side.errors > 0) process.stderr.write(`${side.errors} errors on the ${name} path\n`);
    return { p50: side.latency.p50, p99: side.latency.p99, requests: side.requests };
  };
  if (result.generator.inconclusive !== null) process.stderr.write(`${result.generator.inconclusive}\n`);
  return { plain: of("plain"), mtls: of("mtls"), inconclusive: result.generator.inconclusive !== null };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * A distribution-free interval of the median: the k-th smallest and k-th largest of n values, k
 * the largest whose coverage 1 − 2·P(Binomial(n, ½) < k) is at least `coverage`; null when even
 * the smallest and largest do not cover that much (too few rounds).
 */
function medianInterval(values, coverage) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  let below = 0;
  let choose = 1;
  let best = null;
  for (let k = 1; k <= Math.floor(n / 2); k++) {
    below += choose / 2 ** n;
    choose = (choose * (n - k + 1)) / k;
    const covered = 1 - 2 * below;
    if (covered < coverage) break;
    best = { low: sorted[k - 1], high: sorted[n - k], coverage: covered };
  }
  return best;
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
  const backend = start([
    process.execPath,
    "-e",
    `require("node:http").createServer((q, s) => s.end("hello world\\n")).listen(${backendPort}, "127.0.0.1")`,
  ]);
  await waitForPort(backendPort);

  const terminatorOf = async (name, fromDir) => {
    const port = await freePort();
    const child = start(
      [
        process.execPath,
        ...nodeFlags(name),
        join(fromDir, "security", "terminator-main.js"),
        ...["--port", port, "--upstream-port", backendPort].map(String),
        ...[
          "--cert",
          join(dir, "instance.pem"),
          "--key",
          join(dir, "instance.key"),
          "--ca",
          join(dir, "ca.pem"),
        ],
        ...["--trust-domain", ca.trustDomain, "--service", "bench", "--stage", "staging"],
      ],
      { gcLog: gcLogOf(name) },
    );
    await waitForPort(port);
    return { child, port };
  };
  const { child: terminator, port: terminatorPort } = await terminatorOf("terminator", distDir);

  const proxyScript = join(dir, "proxy.mjs");
  writeFileSync(
    proxyScript,
    `import { StageProxy } from ${JSON.stringify(pathToFileURL(join(distDir, "runtime", "proxy.js")).href)};
const [port, tls, tlsPort] = [Number(process.argv[2]), process.argv[3] === "mtls", Number(process.argv[4])];
const routes = { stable: "i1", candidate: null, candidateWeight: 0 };
const upstream = () => ({ version: "1", port: ${backendPort}, tlsPort });
const proxy = new StageProxy({ service: "bench", stage: "staging" }, routes, upstream);
if (tls) proxy.setTls(${JSON.stringify({ certFile: join(dir, "proxy.pem"), keyFile: join(dir, "proxy.key"), caFile: join(dir, "ca.pem"), trustDomain: ca.trustDomain })});
await proxy.listen(port);
process.once("SIGTERM", () => process.exit(0));
`,
  );
  const proxyOf = async (kind, tlsPort, name = `proxy-${kind}`) => {
    const port = await freePort();
    const child = start(
      [process.execPath, ...nodeFlags(name), proxyScript, String(port), kind, String(tlsPort)],
      {
        gcLog: gcLogOf(name),
      },
    );
    await waitForPort(port);
    return { child, port };
  };
  const { child: plainProxy, port: plainProxyPort } = await proxyOf("plain", terminatorPort);
  const { child: mtlsProxy, port: mtlsProxyPort } = await proxyOf("mtls", terminatorPort);
  // The compared build's terminator behind proxies of their own from the build under test, so the
  // terminator is the only difference
  const compared =
    compareDir === null
      ? null
      : await (async () => {
          const term = await terminatorOf("compared-terminator", compareDir);
          const plain = await proxyOf("plain", term.port, "compared-proxy-plain");
          const mtls = await proxyOf("mtls", term.port, "compared-proxy-mtls");
          return { terminator: term.child, plain, mtls };
        })();

  const nativeSide = native
    ? await (async () => {
        const nativeStreamPort = await freePort();
        // The stream module has no variable for a URI SAN, so the check is on the subject: the
        // stage proxy's common name reaches the backend, any other verified client a closed port.
        const refused = await freePort();
        writeFileSync(
          join(dir, "nginx-stream.conf"),
          `load_module ${STREAM_MODULE};
daemon off; master_process off; worker_processes 1; pid ${dir}/nginx-stream.pid; error_log ${dir}/nginx-stream-error.log;
events { worker_connections 1024; }
stream {
  map $ssl_client_s_dn $instance { "CN=bench/staging proxy" 127.0.0.1:${backendPort}; default 127.0.0.1:${refused}; }
  server { listen 127.0.0.1:${nativeStreamPort} ssl;
    ssl_certificate ${dir}/instance.pem; ssl_certificate_key ${dir}/instance.key; ssl_protocols TLSv1.3;
    ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on; ssl_session_tickets on;
    tcp_nodelay on; proxy_pass $instance; } }
`,
        );
        const stream = start(["nginx", "-p", dir, "-c", join(dir, "nginx-stream.conf")]);
        await waitForPort(nativeStreamPort);
        const plain = await proxyOf("plain", nativeStreamPort, "native-proxy-plain");
        const mtls = await proxyOf("mtls", nativeStreamPort, "native-proxy-mtls");
        return { stream, plain, mtls };
      })()
    : null;
  if (!native) process.stderr.write(`native side left out: ${STREAM_MODULE} not found or BENCH_NATIVE=0\n`);

  const [nginxPlainPort, nginxFrontPort, nginxBackPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const nginxConf = (name, servers) =>
    `daemon off; master_process off; worker_processes 1; pid ${dir}/${name}.pid; error_log ${dir}/${name}-error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000000;
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 32; }
${servers} }
`;
  const nginxOf = (name, servers) => {
    writeFileSync(join(dir, `${name}.conf`), nginxConf(name, servers));
    return start(["nginx", "-p", dir, "-c", join(dir, `${name}.conf`)]);
  };
  const nginxPlain = nginxOf(
    "nginx-plain",
    `  server { listen 127.0.0.1:${nginxPlainPort};
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
  );
  const nginxBack = nginxOf(
    "nginx-back",
    `  server { listen 127.0.0.1:${nginxBackPort} ssl;
    ssl_certificate ${dir}/instance.pem; ssl_certificate_key ${dir}/instance.key; ssl_protocols TLSv1.3;
    ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
  );
  const nginxFront = nginxOf(
    "nginx-front",
    `  upstream back { server 127.0.0.1:${nginxBackPort}; keepalive 32; }
  server { listen 127.0.0.1:${nginxFrontPort};
    location / { proxy_pass https://back; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate ${dir}/proxy.pem; proxy_ssl_certificate_key ${dir}/proxy.key;
      proxy_ssl_trusted_certificate ${dir}/ca.pem; proxy_ssl_verify on; proxy_ssl_name localhost;
      proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on; } }`,
  );
  for (const port of [nginxPlainPort, nginxBackPort, nginxFrontPort]) await waitForPort(port);

  if (generatorCpus !== undefined) {
    const pinned = spawnSync("taskset", ["-a", "-cp", generatorCpus, String(process.pid)]);
    if (pinned.status !== 0) stop(`taskset could not pin the generator: ${pinned.stderr}`);
  }
  const servers = {
    backend,
    "waybill plain proxy": plainProxy,
    "waybill mTLS proxy": mtlsProxy,
    terminator,
    "nginx plain": nginxPlain,
    "nginx front": nginxFront,
    "nginx back": nginxBack,
    ...(nativeSide === null
      ? {}
      : {
          "native plain proxy": nativeSide.plain.child,
          "native mTLS proxy": nativeSide.mtls.child,
          "native nginx stream": nativeSide.stream,
        }),
    ...(compared === null
      ? {}
      : {
          "compared plain proxy": compared.plain.child,
          "compared mTLS proxy": compared.mtls.child,
          "compared terminator": compared.terminator,
        }),
  };
  const affinities = Object.entries(servers).map(([name, child]) => `${name} ${affinity(child.pid)}`);
  const sides = {
    waybill: {
      plain: { url: `http://127.0.0.1:${plainProxyPort}`, cpu: [plainProxy.pid] },
      mtls: { url: `http://127.0.0.1:${mtlsProxyPort}`, cpu: [mtlsProxy.pid, terminator.pid] },
    },
    nginx: {
      plain: { url: `http://127.0.0.1:${nginxPlainPort}`, cpu: [nginxPlain.pid] },
      mtls: { url: `http://127.0.0.1:${nginxFrontPort}`, cpu: [nginxFront.pid, nginxBack.pid] },
    },
    ...(nativeSide === null
      ? {}
      : {
          native: {
            plain: { url: `http://127.0.0.1:${nativeSide.plain.port}`, cpu: [nativeSide.plain.child.pid] },
            mtls: {
              url: `http://127.0.0.1:${nativeSide.mtls.port}`,
              cpu: [nativeSide.mtls.child.pid, nativeSide.stream.pid],
            },
          },
        }),
    ...(compared === null
      ? {}
      : {
          compared: {
            plain: { url: `http://127.0.0.1:${compared.plain.port}`, cpu: [compared.plain.child.pid] },
            mtls: {
              url: `http://127.0.0.1:${compared.mtls.port}`,
              cpu: [compared.mtls.child.pid, compared.terminator.pid],
            },
          },
        }),
  };
  const sideNames = Object.keys(sides);
  // Unmeasured: the first requests of a process compile its code and open its connections and
  // TLS sessions, which is not the steady cost either side is judged on.
  for (const side of sideNames) await measurePair(sides[side].plain.url, sides[side].mtls.url);
  const results = Object.fromEntries(sideNames.map((side) => [side, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? sideNames : [...sideNames].reverse();
    for (const side of order) {
      const { plain, mtls } = sides[side];
      const pids = [...plain.cpu, ...mtls.cpu];
      const before = pids.map(cpuSeconds);
      const measured = await measurePair(plain.url, mtls.url);
      // The CPU time covers the warm-up too, so it is divided by the requests sent in it as well.
      const sent = (requests) => requests + (rate * WARMUP_MS) / 1000;
      const used = pids.map((pid, index) => cpuSeconds(pid) - before[index]);
      const run = {
        ...measured,
        addedP50: measured.mtls.p50 - measured.plain.p50,
        addedP99: measured.mtls.p99 - measured.plain.p99,
        plainCpuPer1k: (1000 * used[0]) / sent(measured.plain.requests),
        mtlsCpuPer1k: (1000 * (used[1] + used[2])) / sent(measured.mtls.requests),
        // The second hop's process alone: the terminator, or nginx's back server
        secondHopCpuPer1k: (1000 * used[2]) / sent(measured.mtls.requests),
      };
      results[side].push(run);
      process.stderr.write(
        `round ${round + 1} ${side}: plain p50/p99 ${measured.plain.p50.toFixed(3)}/${measured.plain.p99.toFixed(3)} ms, ` +
          `mTLS ${measured.mtls.p50.toFixed(3)}/${measured.mtls.p99.toFixed(3)} ms, added ${run.addedP50.toFixed(3)}/${run.addedP99.toFixed(3)} ms; ` +
          `CPU s per 1k plain ${run.plainCpuPer1k.toFixed(3)}, mTLS ${run.mtlsCpuPer1k.toFixed(3)}${measured.inconclusive ? " (inconclusive)" : ""}\n`,
      );
    }
  }

  const field = (side, name) => results[side].map((run) => run[name]);
  const [wP50, wP99, nP50, nP99] = [
    field("waybill", "addedP50"),
    field("waybill", "addedP99"),
    field("nginx", "addedP50"),
    field("nginx", "addedP99"),
  ];
  /**
   * Per round, `side`'s added p99 minus `factor` × `against`'s; the median of that is ≤ 0 when the
   * goal holds. A round where the generator could not keep its rate on either side says nothing,
   * and is left out.
   */
  const judge = (side, against, factor) => {
    const theirs = field(against, "addedP99");
    const margins = field(side, "addedP99").flatMap((ours, round) =>
      results[side][round].inconclusive || results[against][round].inconclusive
        ? []
        : [ours - factor * theirs[round]],
    );
    const interval = medianInterval(margins, COVERAGE);
    const verdict =
      interval === null
        ? `no verdict: ${margins.length} conclusive rounds are too few for a ${COVERAGE * 100} % interval`
        : interval.high <= 0
          ? "met"
          : interval.low > 0
            ? "NOT met"
            : "no verdict: the rounds disagree";
    const intervalText =
      interval === null
        ? ""
        : `; median of ${side} − ${factor === 1 ? "" : `${factor} × `}${against} added p99 over ${margins.length} conclusive rounds ${median(margins).toFixed(3)} ms, ${(interval.coverage * 100).toFixed(0)} % interval [${interval.low.toFixed(3)}, ${interval.high.toFixed(3)}] ms`;
    return { verdict, intervalText };
  };
  const { verdict, intervalText } = judge("waybill", "nginx", GOAL);
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
  const cpu = (side, name) => median(field(side, name)).toFixed(3);
  const comparison = (() => {
    if (compared === null) return "";
    const [cP50, cP99] = [field("compared", "addedP50"), field("compared", "addedP99")];
    // Per round, this build's terminator CPU per 1k requests minus the compared build's
    const cpuDiffs = field("waybill", "secondHopCpuPer1k").map(
      (value, round) => value - results.compared[round].secondHopCpuPer1k,
    );
    const cpuInterval = medianInterval(cpuDiffs, COVERAGE);
    return (
      `  compared with ${compareDir} (its terminator, the same proxies): added p50/p99 per round ${ms(cP50)} / ${ms(cP99)} ms, medians ${median(cP50).toFixed(3)}/${median(cP99).toFixed(3)} ms (this build ${median(wP50).toFixed(3)}/${median(wP99).toFixed(3)})\n` +
      `  terminator CPU s per 1k requests: this build ${cpu("waybill", "secondHopCpuPer1k")}, compared ${cpu("compared", "secondHopCpuPer1k")} (${(median(field("waybill", "secondHopCpuPer1k")) / median(field("compared", "secondHopCpuPer1k"))).toFixed(2)}×); ` +
      `per-round difference ${ms(cpuDiffs)}, median ${median(cpuDiffs).toFixed(3)}` +
      (cpuInterval === null
        ? " (too few rounds for an interval)"
        : `, ${(cpuInterval.coverage * 100).toFixed(0)} % interval [${cpuInterval.low.toFixed(3)}, ${cpuInterval.high.toFixed(3)}]`) +
      `; mTLS path (proxy + terminator) this build ${cpu("waybill", "mtlsCpuPer1k")}, compared ${cpu("compared", "mtlsCpuPer1k")}\n`
    );
  })();
  const nativeText = (() => {
    if (nativeSide === null) return "";
    const [xP50, xP99] = [field("native", "addedP50"), field("native", "addedP99")];
    const goal = judge("native", "nginx", GOAL);
    // Below 0 when the native terminator adds less than the Node one; "met" here means it does
    const better = judge("native", "waybill", 1);
    return (
      `  native terminator (nginx stream behind Waybill's proxies): added p50/p99 per round ${ms(xP50)} / ${ms(xP99)} ms, medians ${median(xP50).toFixed(3)}/${median(xP99).toFixed(3)} ms\n` +
      `  native added p99 ratio to nginx ${ratioText(median(xP99), median(nP99))} (goal ≤ ${GOAL}×: ${goal.verdict}${goal.intervalText})\n` +
      `  native below the Node terminator (added p99): ${better.verdict === "met" ? "yes" : better.verdict === "NOT met" ? "no, above" : better.verdict}${better.intervalText}\n` +
      `  CPU s per 1k requests (medians): native plain ${cpu("native", "plainCpuPer1k")}, mTLS ${cpu("native", "mtlsCpuPer1k")} (proxy + nginx stream, of which stream ${cpu("native", "secondHopCpuPer1k")})\n`
    );
  })();
  const gc = traceGc
    ? `  garbage collections: ${["proxy-plain", "proxy-mtls", "terminator", ...(compared === null ? [] : ["compared-terminator"])].map((name) => `${name} ${gcSummary(gcLogOf(name))}`).join("; ")}\n`
    : "";
  process.stderr.write(
    `mtls-overhead (${rate} req/s on each path, a side's two paths at once, open model, ${rounds} rounds × ${seconds}s; ${cpus().length} CPUs ${cpus()[0]?.model ?? ""}, ` +
      `node ${process.version}, load average ${loadavg()
        .map((value) => value.toFixed(2))
        .join(" ")} at the end)\n` +
      `  CPU affinity: ${generatorCpus === undefined && serverCpus === undefined ? "none set; " : ""}generator ${affinity(process.pid)}; ${affinities.join(", ")}\n` +
      `  added p50 per round: waybill ${ms(wP50)} ms; nginx ${ms(nP50)} ms\n` +
      `  added p99 per round: waybill ${ms(wP99)} ms; nginx ${ms(nP99)} ms\n` +
      `  medians: added p50/p99 waybill ${median(wP50).toFixed(3)}/${median(wP99).toFixed(3)} ms, nginx ${median(nP50).toFixed(3)}/${median(nP99).toFixed(3)} ms\n` +
      `  added p99 ratio ${ratioText(median(wP99), median(nP99))} (goal ≤ ${GOAL}×: ${verdict}${intervalText}); per-round ratios ${spread}\n` +
      (inconclusive === 0
        ? ""
        : `  ${inconclusive} of ${sideNames.length * rounds} measurements inconclusive: the load generator could not keep its rate (a busy machine)\n`) +
      `  CPU s per 1k requests (medians): waybill plain ${cpu("waybill", "plainCpuPer1k")}, mTLS ${cpu("waybill", "mtlsCpuPer1k")} (proxy + terminator, of which terminator ${cpu("waybill", "secondHopCpuPer1k")}); ` +
      `nginx plain ${cpu("nginx", "plainCpuPer1k")}, mTLS ${cpu("nginx", "mtlsCpuPer1k")} (front + back, of which back ${cpu("nginx", "secondHopCpuPer1k")})\n` +
      nativeText +
      comparison +
      gc +
      `  ${PUBLISHED}\n`,
  );
  process.stdout.write(
    `mtls-overhead: added p99 waybill ${median(wP99).toFixed(3)} ms vs nginx ${median(nP99).toFixed(3)} ms (${ratioText(median(wP99), median(nP99))}), ` +
      `added p50 ${median(wP50).toFixed(3)} vs ${median(nP50).toFixed(3)} ms, ${rounds} rounds: goal ≤ ${GOAL}× ${verdict}${intervalText}\n`,
  );
  if (nativeSide !== null) {
    const goal = judge("native", "nginx", GOAL);
    process.stdout.write(
      `mtls-overhead: added p99 native terminator ${median(field("native", "addedP99")).toFixed(3)} ms vs nginx ${median(nP99).toFixed(3)} ms, ` +
        `added p50 ${median(field("native", "addedP50")).toFixed(3)} ms: goal ≤ ${GOAL}× ${goal.verdict}${goal.intervalText}\n`,
    );
  }
} finally {
  for (const child of children) child.kill();
  // A profiled process writes its profile on the way out.
  await Promise.all(children.map(exited));
  rmSync(dir, { recursive: true, force: true });
}
