import { test } from "node:test";
import assert from "node:assert/strict";
import { builtinProvider } from "./builtin.js";
import { type SliProvider, type SliQueryContext, collectSlis } from "./provider.js";

const context: SliQueryContext = {
  service: "shop",
  stage: "prod",
  version: "1.4.2",
  start: new Date("2026-01-02T10:00:00Z"),
  end: new Date("2026-01-02T10:05:00Z"),
};

/** A provider that knows fixed values, and reports null ones with a reason. */
function fixed(name: string, known: Record<string, number | null>): SliProvider & { asked: string[][] } {
  const asked: string[][] = [];
  return {
    name,
    asked,
    fetch: (names, _context, _signal, noValue) => {
      asked.push(names);
      const answer = names.filter((sli) => Object.hasOwn(known, sli)).map((sli) => [sli, known[sli] ?? null]);
      for (const [sli, value] of answer) if (value === null) noValue?.(String(sli), "nothing scraped");
      return Promise.resolve(Object.fromEntries(answer));
    },
  };
}

test("the built-in provider answers exactly the measured names", async () => {
  const builtin = builtinProvider({ latency_p95: 41.5, "error_rate:GET /": 0, cpu_seconds: 3.2 });
  assert.equal(builtin.name, "builtin");
  assert.deepEqual(await builtin.fetch(["latency_p95", "error_rate:GET /", "memory_max_mib"], context), {
    latency_p95: 41.5,
    "error_rate:GET /": 0,
  });
});

test("merges providers: the first number wins, nulls and unknown names come with reasons", async () => {
  const prometheus = fixed("prometheus", { latency_p95: 55, db_p99: null, queue_depth: null });
  const command = fixed("command", { queue_depth: 7, db_p99: null });
  const builtin = builtinProvider({ latency_p95: 41.5, error_rate: 0.5, cpu_throttled_pct: 0 });
  const collected = await collectSlis([prometheus, command, builtin], context, [
    "latency_p95",
    "error_rate",
    "queue_depth",
    "db_p99",
    "cpu_throttled_pct",
    "mystery",
    "error_rate",
  ]);
  assert.deepEqual(collected.values, {
    latency_p95: 55,
    error_rate: 0.5,
    queue_depth: 7,
    db_p99: null,
    cpu_throttled_pct: 0,
    mystery: null,
  });
  assert.deepEqual(collected.reasons, {
    db_p99: "prometheus: nothing scraped; command: nothing scraped",
    mystery: 'no SLI provider knows "mystery"',
  });
  assert.deepEqual(prometheus.asked, [
    ["latency_p95", "error_rate", "queue_depth", "db_p99", "cpu_throttled_pct", "mystery"],
  ]);
});

test("SLI names that are also Object's own property names are plain names", async () => {
  const collected = await collectSlis([builtinProvider({ constructor: 1 })], context, [
    "constructor",
    "__proto__",
    "toString",
  ]);
  assert.equal(collected.values.constructor, 1);
  assert.equal(Object.getPrototypeOf(collected.values), Object.prototype);
  assert.deepEqual(Object.keys(collected.values), ["constructor", "__proto__", "toString"]);
  assert.equal(Object.getOwnPropertyDescriptor(collected.values, "__proto__")?.value, null);
  assert.equal(collected.reasons.toString, 'no SLI provider knows "toString"');
});

test("a provider that fails fails the collection with its message", async () => {
  const broken: SliProvider = {
    name: "prometheus http://prom:9090",
    fetch: () => Promise.reject(new Error("prometheus unreachable")),
  };
  await assert.rejects(collectSlis([builtinProvider({}), broken], context, ["x"]), /prometheus unreachable/);
});
