import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { renderProxyMetrics } from "./metrics.js";
import { RuntimeHarness, STAGE, httpRequest } from "./test-harness.js";
import { DURATION_BUCKETS_SECONDS, TrafficMeter } from "./traffic.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the text exposition format, as far as this output uses it: every sample
 * belongs to a family declared by # TYPE before it, and label values are quoted and escaped.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  assert.ok(text.endsWith("\n"), "the text ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (type !== null) {
      types.set(type[1] ?? "", type[2] ?? "");
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    assert.ok(sample !== null, `not a sample line: ${line}`);
    const [, name = "", labelText = "", valueText = ""] = sample;
    const labels: Record<string, string> = {};
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    let match: RegExpExecArray | null;
    while (labelPattern.lastIndex < labelText.length && (match = labelPattern.exec(labelText)) !== null) {
      labels[match[1] ?? ""] = (match[2] ?? "").replace(/\\(.)/g, (_all, escaped: string) =>
        escaped === "n" ? "\n" : escaped,
      );
    }
    assert.equal(labelPattern.lastIndex, labelText.length, `bad labels in ${line}`);
    const family = name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(name) || types.get(family) === "histogram", `${name} has no # TYPE before it`);
    const value = Number(valueText === "+Inf" ? Infinity : valueText);
    assert.ok(!Number.isNaN(value), `bad value in ${line}`);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

test("renders the text format, escaping label values, with cumulative buckets ending in +Inf", () => {
  let nowMs = 0;
  const meter = new TrafficMeter(() => nowMs);
  for (const [latencyMs, status] of [
    [2, 200],
    [40, 503],
    [3000, 200],
  ] as const) {
    const tally = meter.begin("web-1", 'v"1\\\nbeta');
    nowMs += latencyMs;
    tally.finish({ status, upstreamFailed: false });
  }
  const [metrics] = meter.metrics();
  assert.ok(metrics !== undefined);
  const { types, samples } = parseExposition(
    renderProxyMetrics([{ service: "shop", stage: "prod", metrics }]),
  );
  assert.deepEqual(Object.fromEntries(types), {
    waybill_proxy_requests_total: "counter",
    waybill_proxy_request_duration_seconds: "histogram",
    waybill_proxy_in_flight_requests: "gauge",
  });
  const identity = { service: "shop", stage: "prod", version: 'v"1\\\nbeta', instance: "web-1" };
  assert.equal(valueOf(samples, "waybill_proxy_requests_total", { ...identity, code: "2xx" }), 2);
  assert.equal(valueOf(samples, "waybill_proxy_requests_total", { ...identity, code: "5xx" }), 1);
  assert.equal(valueOf(samples, "waybill_proxy_requests_total", { ...identity, code: "error" }), 0);
  const buckets = samples.filter((sample) => sample.name === "waybill_proxy_request_duration_seconds_bucket");
  assert.deepEqual(
    buckets.map((sample) => sample.labels.le),
    [...DURATION_BUCKETS_SECONDS.map(String), "+Inf"],
  );
  assert.deepEqual(
    buckets.map((sample) => sample.value),
    [0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3],
  );
  assert.equal(valueOf(samples, "waybill_proxy_request_duration_seconds_count", identity), 3);
  assert.ok(
    Math.abs((valueOf(samples, "waybill_proxy_request_duration_seconds_sum", identity) ?? 0) - 3.042) < 1e-9,
  );
  assert.equal(valueOf(samples, "waybill_proxy_in_flight_requests", identity), 0);
});

test("serves the proxies' series on a listener of its own, cumulative since each instance started", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const withoutMetrics = harness.runtime();
    await withoutMetrics.start();
    assert.equal(withoutMetrics.metricsUrl(), undefined);
    await withoutMetrics.close({ stopInstances: true });

    const runtime = harness.runtime({ metricsPort: 0 });
    await runtime.start();
    const url = runtime.metricsUrl();
    assert.match(url ?? "", /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const proxy = await runtime.ensureProxy(STAGE);
    await runtime.startInstance(harness.identity("web-1", { APP_SLOW_MS: "30" }));
    await runtime.startInstance(harness.identity("idle"));
    await runtime.setRoutes(STAGE, { stable: "web-1", candidate: null, candidateWeight: 0 });

    const sent: Array<[string, number]> = [
      ["/status?code=200", 5],
      ["/status?code=302", 1],
      ["/status?code=404", 2],
      ["/status?code=500", 3],
      ["/", 4],
    ];
    for (const [path, count] of sent) {
      for (let index = 0; index < count; index += 1) await httpRequest(proxy.port, path);
    }
    const appOwn = await httpRequest(proxy.port, "/metrics");
    assert.equal(appOwn.status, 404, "the stage port's /metrics is the app's");

    const response = await fetch(url ?? "");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const { samples } = parseExposition(await response.text());
    const web = { service: "shop", stage: "staging", version: "v-web-1", instance: "web-1" };
    const requests = (code: string): number | undefined =>
      valueOf(samples, "waybill_proxy_requests_total", { ...web, code });
    assert.deepEqual(
      ["2xx", "3xx", "4xx", "5xx", "error"].map(requests),
      [5 + 4, 1, 2 + 1, 3, 0],
      "the app's own /metrics answered 404 through the proxy",
    );
    const count = valueOf(samples, "waybill_proxy_request_duration_seconds_count", web);
    assert.equal(count, 16);
    // The four slow answers took at least 30 ms, so at most 12 answers fit in 25 ms.
    const within25ms = valueOf(samples, "waybill_proxy_request_duration_seconds_bucket", {
      ...web,
      le: "0.025",
    });
    assert.ok(within25ms !== undefined && within25ms <= 12, `${within25ms} within 25 ms`);
    assert.equal(
      valueOf(samples, "waybill_proxy_request_duration_seconds_bucket", { ...web, le: "+Inf" }),
      16,
    );
    assert.ok((valueOf(samples, "waybill_proxy_request_duration_seconds_sum", web) ?? 0) >= 0.12);
    assert.equal(valueOf(samples, "waybill_proxy_in_flight_requests", web), 0);

    const idle = { service: "shop", stage: "staging", version: "v-idle", instance: "idle" };
    assert.equal(
      valueOf(samples, "waybill_proxy_requests_total", { ...idle, code: "2xx" }),
      0,
      "zero series",
    );

    assert.equal((await fetch(url?.replace("/metrics", "/other") ?? "")).status, 404);
    await runtime.stopInstance("web-1", 0);
    const afterStop = parseExposition(await (await fetch(url ?? "")).text());
    assert.equal(
      afterStop.samples.some((sample) => sample.labels.instance === "web-1"),
      false,
      "a stopped instance's series go",
    );
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});
