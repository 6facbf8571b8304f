/**
 * The Prometheus provider against a real Prometheus (Debian's `prometheus` package) scraping the
 * local runtime's /metrics: the proxy's series, the provider's placeholders and PromQL, end to end.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { pickFreePort } from "../runtime/ports.js";
import { RuntimeHarness, STAGE, httpRequest } from "../runtime/test-harness.js";
import { sleep } from "../runtime/timing.js";
import { fixturesDir } from "../testing/paths.js";
import { collectSlis, type SliQueryContext } from "./provider.js";
import { prometheusProvider } from "./prometheus.js";

const PROMETHEUS_BIN = "/usr/bin/prometheus";
const appScript = join(fixturesDir, "runtime", "app.mjs");

interface RunningPrometheus {
  url: string;
  stderrTail: () => string;
  stop: () => Promise<void>;
}

async function startPrometheus(dataDir: string, scrapeTarget: string): Promise<RunningPrometheus> {
  const port = await pickFreePort(new Set());
  const config = join(dataDir, "prometheus.yml");
  await writeFile(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: waybill",
      "    static_configs:",
      `      - targets: ["${scrapeTarget}"]`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dataDir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    stderrTail: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // The waits are cancelled once it exits, so no timer keeps the test process alive.
      const waiting = new AbortController();
      const exitedWithin = (ms: number): Promise<boolean> =>
        Promise.race([exited.then(() => true), sleep(ms, waiting.signal).then(() => false)]);
      child.kill("SIGTERM");
      if (!(await exitedWithin(5000))) {
        child.kill("SIGKILL");
        await exitedWithin(2000);
      }
      waiting.abort();
    },
  };
}

/** Polls `check` until it returns true, at most `timeoutMs`; errors count as "not yet". */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(250);
  }
  return false;
}

test("queries a real Prometheus that scrapes the runtime's /metrics", async (t) => {
  if (!existsSync(PROMETHEUS_BIN)) {
    const message = `${PROMETHEUS_BIN} is missing: install Debian's package (apt-get install -y prometheus)`;
    if (process.env.CI === "true") assert.fail(message);
    t.skip(message);
    return;
  }
  const harness = await RuntimeHarness.create(appScript);
  const dataDir = await mkdtemp(join(tmpdir(), "waybill-prometheus-"));
  let prometheus: RunningPrometheus | undefined;
  try {
    const runtime = harness.runtime({ metricsPort: 0 });
    await runtime.start();
    const metricsUrl = new URL(runtime.metricsUrl() ?? "");
    const proxy = await runtime.ensureProxy(STAGE);
    const instance = await runtime.startInstance(harness.identity("web-1", { APP_SLOW_MS: "30" }));
    await runtime.setRoutes(STAGE, { stable: "web-1", candidate: null, candidateWeight: 0 });

    prometheus = await startPrometheus(dataDir, metricsUrl.host);
    let windowStart = new Date();
    const context = (): SliQueryContext => ({
      service: STAGE.service,
      stage: STAGE.stage,
      version: instance.version,
      start: windowStart,
      end: new Date(),
    });
    const labels = 'service="$service",stage="$stage",version="$version"';
    const provider = prometheusProvider({
      url: prometheus.url,
      timeoutMs: 5000,
      queries: {
        scraped: 'max(up{job="waybill"})',
        requests: `sum(waybill_proxy_requests_total{${labels}})`,
        errors: `sum(waybill_proxy_requests_total{${labels},code="5xx"})`,
        increase: `sum(increase(waybill_proxy_requests_total{${labels}}[$duration]))`,
        latency_p95: `histogram_quantile(0.95, sum by (le) (waybill_proxy_request_duration_seconds_bucket{${labels}}))`,
        by_code: `waybill_proxy_requests_total{${labels}}`,
        unclosed: "sum(",
      },
    });
    const value = async (sli: string, at = context()): Promise<number | null> =>
      (await provider.fetch([sli], at))[sli] ?? null;

    // The zero series first, so increase() sees the counters start. Prometheus applies new
    // scrape targets on a 5 s tick, so the first scrape comes about 5 s after it started.
    const scraped = await eventually(async () => (await value("requests")) === 0, 20_000);
    assert.ok(
      scraped,
      `Prometheus did not scrape ${metricsUrl} in time; its log ends with:\n${prometheus.stderrTail()}`,
    );
    windowStart = new Date(Date.now() - 1000);

    const slow = 20;
    const failing = 5;
    for (let index = 0; index < slow; index += 1)
      assert.equal((await httpRequest(proxy.port, "/")).status, 200);
    for (let index = 0; index < failing; index += 1) {
      assert.equal((await httpRequest(proxy.port, "/status?code=500")).status, 500);
    }
    assert.ok(
      await eventually(async () => (await value("requests")) === slow + failing, 15_000),
      "Prometheus scraped the traffic",
    );
    await sleep(1500); // one more scrape, so increase() has the last value twice

    const collected = await collectSlis([provider], context(), [
      "scraped",
      "requests",
      "errors",
      "increase",
      "latency_p95",
      "by_code",
      "not_configured",
    ]);
    assert.equal(collected.values.scraped, 1);
    assert.equal(collected.values.requests, slow + failing);
    assert.equal(collected.values.errors, failing);
    const increase = collected.values.increase ?? 0;
    // increase() extrapolates to the window's edges, so it is near the count, not exactly it.
    assert.ok(
      increase >= 0.8 * (slow + failing) && increase <= 1.6 * (slow + failing),
      `increase ${increase}`,
    );
    // 80% of the answers took 30 ms or more: the 95th percentile lies in the 25–50 ms bucket.
    const p95 = collected.values.latency_p95 ?? 0;
    assert.ok(p95 > 0.025 && p95 <= 0.05, `p95 ${p95}s`);
    assert.equal(collected.values.by_code, null);
    assert.match(collected.reasons.by_code ?? "", /returned 5 series; aggregate them to one/);
    assert.equal(collected.values.not_configured, null);

    const otherVersion = await provider.fetch(
      ["requests"],
      { ...context(), version: "v-unknown" },
      undefined,
      (_sli, reason) => assert.equal(reason, "the query returned no series"),
    );
    assert.deepEqual(otherVersion, { requests: null });
    await assert.rejects(value("unclosed"), (error: unknown) => {
      assert.ok(error instanceof UserError, String(error));
      assert.match(error.message, /failed with HTTP 400 \(bad_data: .*unclosed left parenthesis/);
      return true;
    });
  } finally {
    await prometheus?.stop();
    assert.deepEqual(await harness.finish(), []);
    await rm(dataDir, { recursive: true, force: true });
  }
});
