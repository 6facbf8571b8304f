import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixturesDir } from "../testing/paths.js";
import { parseCpuStat } from "./cgroups.js";
import {
  type UsageReading,
  parseProcStat,
  parseProcStatusMemory,
  perSecondWithin,
  readGroupUsage,
  throttledPct,
} from "./process-metrics.js";
import { RuntimeHarness, STAGE, httpRequest } from "./test-harness.js";

const appScript = join(fixturesDir, "runtime", "app.mjs");
const procFixture = (name: string): string =>
  readFileSync(join(fixturesDir, "runtime", "proc", name), "utf8");

test("parses /proc/<pid>/stat, whose command name may hold spaces and parentheses", () => {
  assert.deepEqual(parseProcStat(procFixture("stat-odd-name.txt")), {
    state: "S",
    pgid: 4240,
    cpuTicks: 150 + 50 + 7 + 3,
    ownCpuTicks: 150 + 50,
  });
  assert.equal(parseProcStat("garbage"), null);
});

test("parses VmRSS and VmHWM from /proc/<pid>/status, zero where a process has no memory lines", () => {
  assert.deepEqual(parseProcStatusMemory(procFixture("status.txt")), { rssKib: 61440, peakRssKib: 81236 });
  assert.deepEqual(parseProcStatusMemory("Name:\tkthreadd\nState:\tS (sleeping)\n"), {
    rssKib: 0,
    peakRssKib: 0,
  });
});

test("parses cgroup cpu.stat of v1 and v2, null where it has no throttling counters", () => {
  assert.deepEqual(parseCpuStat(procFixture("cpu-stat-v1.txt")), { periods: 2000, throttledPeriods: 500 });
  assert.deepEqual(parseCpuStat(procFixture("cpu-stat-v2.txt")), { periods: 1200, throttledPeriods: 30 });
  assert.equal(parseCpuStat(procFixture("cpu-stat-v2-root.txt")), null);
});

test("throttling over a window is the share of its CPU periods that were throttled", () => {
  assert.equal(
    throttledPct({ periods: 100, throttledPeriods: 10 }, { periods: 300, throttledPeriods: 60 }),
    25,
  );
  assert.equal(throttledPct({ periods: 5, throttledPeriods: 1 }, { periods: 5, throttledPeriods: 1 }), 0);
});

/** Readings every 200 ms: idle for 2 s, then 20 ticks (200 ms of CPU) a second for 3 s, then idle */
const idleBusyIdle: UsageReading[] = Array.from({ length: 40 }, (_, i) => {
  const atMs = 1_000 + i * 200;
  const busyMs = Math.min(Math.max(atMs - 3_000, 0), 3_000);
  return { atMs, ticks: busyMs / 50, rssKib: atMs >= 3_000 && atMs <= 6_000 ? 4_096 : 1_024 };
});

test("usage per second counts whole seconds of the window it is given, not the waiting around it", () => {
  const cases: {
    name: string;
    within?: { fromMs: number; toMs: number };
    cpu: number[];
    memory: number[];
  }[] = [
    {
      name: "the whole sampling, idle seconds included",
      cpu: [0, 0, 200, 200, 200, 0, 0],
      memory: [1, 4, 4, 4, 4, 4, 1],
    },
    {
      name: "the load's window only",
      within: { fromMs: 3_000, toMs: 6_000 },
      cpu: [200, 200, 200],
      memory: [4, 4, 4],
    },
    { name: "a window shorter than a second", within: { fromMs: 3_000, toMs: 3_900 }, cpu: [], memory: [] },
  ];
  for (const { name, within, cpu, memory } of cases) {
    const series = perSecondWithin(idleBusyIdle, within);
    assert.deepEqual(series.cpuMillicores, cpu, name);
    assert.deepEqual(series.memoryMib, memory, name);
  }
});

test("measures CPU time and memory of an instance's process group, over a window and since start", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime();
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);
    const instance = await runtime.startInstance(harness.identity("busy"));
    await runtime.setRoutes(STAGE, { stable: "busy", candidate: null, candidateWeight: 0 });
    assert.throws(() => runtime.startProcessSampler("nobody"), /no instance nobody/);
    await assert.rejects(runtime.processMetrics("nobody"), /no instance nobody/);

    const idle = runtime.startProcessSampler("busy");
    const idleMetrics = await idle.stop();
    assert.ok(idleMetrics.cpuSeconds < 0.2, `an idle app used ${idleMetrics.cpuSeconds}s of CPU`);

    const sampler = runtime.startProcessSampler("busy");
    assert.equal((await httpRequest(proxy.port, "/burn?ms=500")).status, 200);
    const window = await sampler.stop();
    // /proc counts in 10 ms ticks.
    assert.ok(window.cpuSeconds >= 0.48 && window.cpuSeconds <= 2, `cpuSeconds ${window.cpuSeconds}`);
    assert.ok(window.memoryMaxMib > 10 && window.memoryMaxMib < 1024, `memoryMaxMib ${window.memoryMaxMib}`);
    assert.ok(
      window.cpuThrottledPct === null || (window.cpuThrottledPct >= 0 && window.cpuThrottledPct <= 100),
      `cpuThrottledPct ${window.cpuThrottledPct}`,
    );

    const sinceStart = await runtime.processMetrics("busy");
    assert.ok(sinceStart.cpuSeconds >= window.cpuSeconds, "the whole life includes the window");
    assert.ok(sinceStart.memoryMaxMib >= window.memoryMaxMib * 0.9);
    const usage = await readGroupUsage(instance.pid ?? 0);
    assert.equal(usage.processes, 1);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});

test("a sampler follows its instance across a restart and counts the new process's time", async () => {
  const harness = await RuntimeHarness.create(appScript);
  try {
    const runtime = harness.runtime({ pollIntervalMs: 50, backoff: { initialMs: 50 } });
    await runtime.start();
    const proxy = await runtime.ensureProxy(STAGE);
    const first = await runtime.startInstance(harness.identity("phoenix"));
    await runtime.setRoutes(STAGE, { stable: "phoenix", candidate: null, candidateWeight: 0 });
    const sampler = runtime.startProcessSampler("phoenix");
    process.kill(first.pid ?? 0, "SIGKILL");
    await harness.event("instance.restarted");
    assert.equal((await httpRequest(proxy.port, "/burn?ms=400")).status, 200);
    const metrics = await sampler.stop();
    // The burn alone is 0.4 s, and a fresh node process takes some CPU to start.
    assert.ok(metrics.cpuSeconds >= 0.4, `cpuSeconds ${metrics.cpuSeconds}`);
  } finally {
    assert.deepEqual(await harness.finish(), []);
  }
});
