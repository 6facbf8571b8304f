import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cpuSaturation,
  DEFAULT_MARGIN,
  DEFAULT_RESOLUTION,
  MEBIBYTE,
  defaultFloor,
  formatCpu,
  formatMemory,
  nextTrial,
  recommendation,
  savingAgainst,
  usageRecommendation,
  type SearchPlan,
  type Size,
  type TrialVerdict,
} from "./rightsizing.js";

const declared: Size = { cpuMillicores: 1000, memoryBytes: 512 * MEBIBYTE };

function plan(overrides: Partial<SearchPlan> = {}): SearchPlan {
  return {
    declared,
    floor: defaultFloor(declared),
    maxSteps: 12,
    resolution: DEFAULT_RESOLUTION,
    margin: DEFAULT_MARGIN,
    ...overrides,
  };
}

/** Runs the whole search against a service that passes exactly when it gets at least `need`. */
function search(searchPlan: SearchPlan, need: Size, confirmPasses = true): TrialVerdict[] {
  const verdicts: TrialVerdict[] = [];
  for (let trial = nextTrial(searchPlan, verdicts); trial !== null; trial = nextTrial(searchPlan, verdicts)) {
    const fits = trial.size.cpuMillicores >= need.cpuMillicores && trial.size.memoryBytes >= need.memoryBytes;
    const passed = trial.phase === "confirm" ? confirmPasses && fits : fits;
    verdicts.push({ ...trial, passed, reason: passed ? "every SLO passed" : "an SLO failed" });
  }
  return verdicts;
}

const needs: { name: string; need: Size }[] = [
  { name: "a small service", need: { cpuMillicores: 200, memoryBytes: 150 * MEBIBYTE } },
  {
    name: "a service that needs almost all it declared",
    need: { cpuMillicores: 900, memoryBytes: 480 * MEBIBYTE },
  },
  { name: "a service that needs less than the floor", need: { cpuMillicores: 5, memoryBytes: 8 * MEBIBYTE } },
  {
    name: "a service that needs a third of a core",
    need: { cpuMillicores: 333, memoryBytes: 77 * MEBIBYTE },
  },
];

for (const { name, need } of needs) {
  test(`bisection proves a minimum within its resolution of the real need: ${name}`, () => {
    const searchPlan = plan();
    const verdicts = search(searchPlan, need);
    assert.ok(verdicts.length <= searchPlan.maxSteps, `${verdicts.length} steps`);
    const { provenMinimum, size, confirmed } = recommendation(searchPlan, verdicts);
    const floor = searchPlan.floor;
    const cpuNeed = Math.max(need.cpuMillicores, floor.cpuMillicores);
    const memoryNeed = Math.max(need.memoryBytes, floor.memoryBytes);
    assert.ok(provenMinimum.cpuMillicores >= need.cpuMillicores, `cpu ${provenMinimum.cpuMillicores}`);
    assert.ok(provenMinimum.cpuMillicores <= cpuNeed * 1.25, `cpu ${provenMinimum.cpuMillicores}`);
    assert.ok(provenMinimum.memoryBytes >= need.memoryBytes);
    assert.ok(
      provenMinimum.memoryBytes <= memoryNeed * 1.25,
      `memory ${provenMinimum.memoryBytes / MEBIBYTE}Mi`,
    );
    assert.ok(
      size.cpuMillicores >= provenMinimum.cpuMillicores && size.cpuMillicores <= declared.cpuMillicores,
    );
    assert.ok(size.memoryBytes >= provenMinimum.memoryBytes && size.memoryBytes <= declared.memoryBytes);
    assert.equal(confirmed, verdicts.some((verdict) => verdict.phase === "confirm") ? true : null);
  });
}

test("the search tries CPU first with memory at its declared size, then memory with CPU declared", () => {
  const verdicts = search(plan(), { cpuMillicores: 200, memoryBytes: 150 * MEBIBYTE });
  const phases = verdicts.map((verdict) => verdict.phase);
  assert.equal(phases[0], "cpu");
  assert.equal(phases.at(-1), "confirm");
  assert.ok(phases.indexOf("memory") > phases.lastIndexOf("cpu"));
  for (const verdict of verdicts) {
    if (verdict.phase === "cpu") assert.equal(verdict.size.memoryBytes, declared.memoryBytes);
    if (verdict.phase === "memory") assert.equal(verdict.size.cpuMillicores, declared.cpuMillicores);
  }
});

test("no step is tried twice, and the steps never pass the bound", () => {
  for (const maxSteps of [1, 2, 3, 5, 8, 20]) {
    const verdicts = search(plan({ maxSteps }), { cpuMillicores: 300, memoryBytes: 100 * MEBIBYTE });
    assert.ok(verdicts.length <= maxSteps, `maxSteps ${maxSteps}: ${verdicts.length}`);
    const keys = verdicts.map(
      (verdict) => `${verdict.phase} ${verdict.size.cpuMillicores} ${verdict.size.memoryBytes}`,
    );
    assert.equal(new Set(keys).size, keys.length);
  }
});

test("a failed confirmation keeps the declared size and says why", () => {
  const searchPlan = plan();
  const verdicts = search(searchPlan, { cpuMillicores: 200, memoryBytes: 150 * MEBIBYTE }, false);
  const result = recommendation(searchPlan, verdicts);
  assert.equal(result.confirmed, false);
  assert.deepEqual(result.size, declared);
  assert.match(result.note ?? "", /both limits together at cpu \d+m, memory \d+Mi failed \(an SLO failed\)/);
});

test("a service that needs all it declared gets no smaller recommendation and no confirmation", () => {
  const searchPlan = plan();
  const verdicts = search(searchPlan, declared);
  assert.ok(verdicts.every((verdict) => !verdict.passed));
  assert.ok(verdicts.every((verdict) => verdict.phase !== "confirm"));
  assert.deepEqual(recommendation(searchPlan, verdicts).size, declared);
});

test("resuming from recorded steps goes on with the same search", () => {
  const searchPlan = plan();
  const need = { cpuMillicores: 250, memoryBytes: 200 * MEBIBYTE };
  const whole = search(searchPlan, need);
  const firstHalf = whole.slice(0, 4);
  assert.deepEqual(nextTrial(searchPlan, firstHalf), { phase: whole[4]?.phase, size: whole[4]?.size });
});

const usageVectors: {
  name: string;
  cpu: number[];
  memoryMib: number[];
  oomKills: number;
  expected: Size | null;
}[] = [
  {
    name: "CPU p90 + 15% and memory peak + 15%",
    cpu: [100, 100, 100, 100, 100, 100, 100, 100, 100, 400],
    memoryMib: [100, 120, 110],
    oomKills: 0,
    expected: { cpuMillicores: 115, memoryBytes: 138 * MEBIBYTE },
  },
  {
    name: "an OOM kill bumps memory by at least 100 MiB",
    cpu: [200],
    memoryMib: [100],
    oomKills: 1,
    expected: { cpuMillicores: 230, memoryBytes: 200 * MEBIBYTE },
  },
  {
    name: "an OOM kill of a large process bumps by 20%",
    cpu: [200],
    memoryMib: [1000],
    oomKills: 2,
    expected: { cpuMillicores: 230, memoryBytes: 1200 * MEBIBYTE },
  },
  { name: "nothing sampled recommends nothing", cpu: [], memoryMib: [], oomKills: 0, expected: null },
];

for (const vector of usageVectors) {
  test(`usage-based recommendation (VPA's arithmetic): ${vector.name}`, () => {
    assert.deepEqual(
      usageRecommendation({
        cpuMillicores: vector.cpu,
        memoryBytes: vector.memoryMib.map((mib) => mib * MEBIBYTE),
        oomKills: vector.oomKills,
      }),
      vector.expected,
    );
  });
}

test("the saving is told in units and as a share of the declared size", () => {
  assert.deepEqual(savingAgainst(declared, { cpuMillicores: 250, memoryBytes: 128 * MEBIBYTE }), {
    cpuMillicores: 750,
    cpuPct: 75,
    memoryBytes: 384 * MEBIBYTE,
    memoryPct: 75,
  });
});

const saturations: { name: string; limit: number; used: number[]; saturated: boolean }[] = [
  { name: "a copy with room to spare", limit: 400, used: [200, 210, 190, 220, 205], saturated: false },
  { name: "a copy at its limit", limit: 400, used: [395, 398, 400, 390, 399], saturated: true },
  {
    name: "a copy at its limit most seconds",
    limit: 400,
    used: [300, 380, 385, 390, 395, 370, 380, 390, 392, 396],
    saturated: true,
  },
  {
    name: "a copy with one busy second",
    limit: 400,
    used: [200, 200, 200, 200, 200, 200, 200, 200, 200, 395],
    saturated: false,
  },
  { name: "no samples", limit: 400, used: [], saturated: false },
];
for (const vector of saturations) {
  test(`a step fails when its copy is saturated at its CPU limit: ${vector.name}`, () => {
    const reason = cpuSaturation(vector.limit, vector.used);
    assert.equal(reason !== null, vector.saturated, reason ?? "not saturated");
    if (reason !== null) assert.match(reason, /saturated: it used \d+m of its 400m CPU limit/);
  });
}

const formats: [number, string][] = [
  [1000, "1"],
  [2000, "2"],
  [250, "250m"],
  [1500, "1500m"],
];
for (const [millicores, text] of formats) {
  test(`a CPU limit of ${millicores}m is written ${text}`, () => assert.equal(formatCpu(millicores), text));
}
const memoryFormats: [number, string][] = [
  [512 * MEBIBYTE, "512Mi"],
  [1024 * MEBIBYTE, "1Gi"],
  [300.5 * MEBIBYTE, "301Mi"],
];
for (const [bytes, text] of memoryFormats) {
  test(`a memory limit of ${bytes} bytes is written ${text}`, () => assert.equal(formatMemory(bytes), text));
}
