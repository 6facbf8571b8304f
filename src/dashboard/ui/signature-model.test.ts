import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StageDoraView } from "../../api/dora.js";
import type { HeatmapCellView } from "../../api/signatures.js";
import {
  cellLabel,
  comparisonPair,
  doraFigures,
  formatChange,
  formatSeconds,
  formatValue,
  trendOf,
  type HeatmapBuild,
} from "./signature-model.js";

const cell = (value: number | null, overrides: Partial<HeatmapCellView> = {}): HeatmapCellView => ({
  status: "pass",
  value,
  baseline: 100,
  score: 1,
  passCriteria: ["<=+10%"],
  warningCriteria: ["<=+20%"],
  passThreshold: 110,
  warningThreshold: 120,
  better: "lower",
  ...overrides,
});

const build = (n: number, cells: Record<string, HeatmapCellView>): HeatmapBuild => ({
  runId: `r-${n}`,
  version: `0.${n}.0`,
  digest: `sha256:${n}`,
  result: "pass",
  score: 100,
  recordedAt: "2026-12-04T12:00:00.000Z",
  noValueReasons: {},
  cells,
});

describe("formatValue", () => {
  const cases: [number | null, string][] = [
    [null, "—"],
    [Number.NaN, "—"],
    [0, "0"],
    [101.23456, "101"],
    [0.012345, "0.0123"],
    [12.5, "12.5"],
    [1234.5, "1,235"],
    [-3.14159, "-3.14"],
  ];
  for (const [value, text] of cases)
    test(`writes ${value} as ${text}`, () => assert.equal(formatValue(value), text));
});

describe("formatChange", () => {
  const cases: [number | null, number | null, string][] = [
    [15, 15, "+15%"],
    [-3, -2.5, "−2.5%"],
    [0, 0, "0%"],
    [2.5, null, "+2.5 (from 0)"],
    [null, null, "appeared or vanished"],
  ];
  for (const [absolute, relative, text] of cases) {
    test(`writes ${absolute} / ${relative}% as ${text}`, () =>
      assert.equal(formatChange(absolute, relative), text));
  }
});

describe("formatSeconds", () => {
  const cases: [number | null, string][] = [
    [null, "—"],
    [42, "42 s"],
    [600, "10 min"],
    [3 * 3600 + 1800, "3.5 h"],
    [3 * 86_400, "3 days"],
  ];
  for (const [seconds, text] of cases)
    test(`writes ${seconds} s as ${text}`, () => assert.equal(formatSeconds(seconds), text));
});

test("a cell's label says its status, value, baseline, score and criteria in words", () => {
  assert.equal(
    cellLabel("latency_p95", "1.2.0", cell(115, { status: "warning", score: 0.5 })),
    "latency_p95 in 1.2.0: warning, value 115, baseline 100, score 0.5, pass <=+10%, warning <=+20%",
  );
  assert.equal(
    cellLabel(
      "error_rate",
      "1.2.0",
      cell(null, { status: "fail", baseline: null, passCriteria: ["<1"], warningCriteria: [] }),
    ),
    "error_rate in 1.2.0: fail, value —, baseline —, score 1, pass <1",
  );
  assert.equal(cellLabel("x", "1.2.0", undefined), "x in 1.2.0: not judged");
});

test("an SLI's trend runs oldest first, with gaps where a build did not judge it", () => {
  const builds = [
    build(3, { lat: cell(130, { passThreshold: 111, warningThreshold: 122 }) }),
    build(2, {}),
    build(1, { lat: cell(100) }),
  ];
  assert.deepEqual(trendOf(builds, "lat"), {
    versions: ["0.1.0", "0.2.0", "0.3.0"],
    values: [100, null, 130],
    baseline: [100, null, 100],
    pass: [110, null, 111],
    warning: [120, null, 122],
    better: "lower",
  });
});

describe("comparisonPair", () => {
  const builds = [build(3, {}), build(2, {}), build(1, {})];
  const cases: [string, string | null, { a: string; b: string } | null][] = [
    ["nothing selected: the newest against the one before", null, { a: "r-2", b: "r-3" }],
    ["a build in the middle against the one before it", "r-2", { a: "r-1", b: "r-2" }],
    ["the oldest against the one after it", "r-1", { a: "r-2", b: "r-1" }],
    ["an unknown id: as nothing selected", "r-9", { a: "r-2", b: "r-3" }],
  ];
  for (const [name, selected, pair] of cases)
    test(name, () => assert.deepEqual(comparisonPair(builds, selected), pair));
  test("one build: nothing to compare", () => assert.equal(comparisonPair([build(1, {})], null), null));
});

test("DORA's four keys read as words with their bands", () => {
  const stage: StageDoraView = {
    service: "hello",
    stage: "production",
    deployments: 3,
    deploymentsPerDay: 0.1,
    leadTime: { medianSeconds: 7200, fromCommit: 0, fromShip: 3 },
    changeFailure: { failed: 1, ratio: 1 / 3 },
    timeToRestore: { medianSeconds: null, restored: 0, unrestored: 1 },
    bands: { deploymentFrequency: "high", leadTime: "elite", changeFailureRate: "low", timeToRestore: null },
    series: [],
  };
  assert.deepEqual(doraFigures(stage), {
    deploymentFrequency: "0.7 a week, 3 in all (high)",
    leadTime: "2 h (elite)",
    changeFailureRate: "33.3%, 1 failed (low)",
    timeToRestore: "—",
  });
});
