import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bucketStart,
  doraReport,
  failureRateBand,
  frequencyBand,
  leadTimeBand,
  median,
  parseWindow,
  restoreBand,
  type DeliveryRecord,
} from "./dora.js";

const window = {
  since: "2026-11-01T00:00:00.000Z",
  until: "2026-11-11T00:00:00.000Z",
  bucket: "day" as const,
};

function delivery(
  stage: string,
  runId: string,
  kind: "ship" | "rollback",
  releasedAt: string,
  extra: Partial<DeliveryRecord> = {},
): DeliveryRecord {
  return {
    service: "cart",
    stage,
    runId,
    kind,
    state: "succeeded",
    finishedAt: releasedAt,
    releasedAt,
    shippedAt: null,
    committedAt: null,
    ...extra,
  };
}

/**
 * A recorded history of cart/prod with its answers worked out by hand:
 *   D0 before the window: not counted.
 *   D1 ship, committed 08:00, released 11-01 10:00: lead 2h.
 *   D2 ship, no commit time, shipped 06:00, released 11-02 10:00: lead 4h; rolled back by R1
 *      at 11:30: failed, restored in 1h30m.
 *   D3 ship, committed a day before its release 11-04 12:00: lead 1d; its run failed after the
 *      release and rolled itself back at 12:20: failed, restored in 20m.
 *   D4 ship, committed a day before 11-06 00:00: lead 1d; replaced by D5 (not a rollback): good.
 *   D5 ship, shipped 2h before 11-08 00:00: lead 2h; rolled back by R2 11-09 00:00: restored in 1d.
 *   D6 ship, committed 1h before 11-10 00:00: lead 1h; the last: good.
 * Deployments 6 over 10 days: 0.6/day. Lead times 1h 2h 2h 4h 1d 1d: median 3h. Failures
 * D2 D3 D5: 50%. Restores 20m 1h30m 1d: median 1h30m.
 */
const prod: DeliveryRecord[] = [
  delivery("prod", "d0", "ship", "2026-10-31T23:00:00.000Z", { state: "failed" }),
  delivery("prod", "d1", "ship", "2026-11-01T10:00:00.000Z", {
    committedAt: "2026-11-01T08:00:00.000Z",
    shippedAt: "2026-11-01T09:00:00.000Z",
  }),
  delivery("prod", "d2", "ship", "2026-11-02T10:00:00.000Z", { shippedAt: "2026-11-02T06:00:00.000Z" }),
  delivery("prod", "r1", "rollback", "2026-11-02T11:30:00.000Z"),
  delivery("prod", "d3", "ship", "2026-11-04T12:00:00.000Z", {
    committedAt: "2026-11-03T12:00:00.000Z",
    state: "failed",
    finishedAt: "2026-11-04T12:20:00.000Z",
  }),
  delivery("prod", "d4", "ship", "2026-11-06T00:00:00.000Z", { committedAt: "2026-11-05T00:00:00.000Z" }),
  delivery("prod", "d5", "ship", "2026-11-08T00:00:00.000Z", { shippedAt: "2026-11-07T22:00:00.000Z" }),
  delivery("prod", "r2", "rollback", "2026-11-09T00:00:00.000Z"),
  delivery("prod", "d6", "ship", "2026-11-10T00:00:00.000Z", { committedAt: "2026-11-09T23:00:00.000Z" }),
];

const HOUR = 3_600;
const DAY = 86_400;

describe("DORA's four keys over a recorded history", () => {
  const report = doraReport(prod, window, [
    { service: "cart", stage: "prod" },
    { service: "cart", stage: "dev" },
  ]);
  const cartProd = report.stages.find((stage) => stage.stage === "prod");
  const cartDev = report.stages.find((stage) => stage.stage === "dev");

  const expectations = [
    {
      what: "deployments (rollbacks and releases before the window are not)",
      actual: () => cartProd?.deployments,
      expected: 6,
    },
    { what: "deployments per day", actual: () => cartProd?.deploymentsPerDay, expected: 0.6 },
    { what: "the median lead time", actual: () => cartProd?.leadTime.medianSeconds, expected: 3 * HOUR },
    {
      what: "lead times that started at the commit",
      actual: () => cartProd?.leadTime.fromCommit,
      expected: 4,
    },
    { what: "lead times that started at the ship", actual: () => cartProd?.leadTime.fromShip, expected: 2 },
    { what: "failed deployments", actual: () => cartProd?.changeFailure.failed, expected: 3 },
    { what: "the change failure ratio", actual: () => cartProd?.changeFailure.ratio, expected: 0.5 },
    {
      what: "the median time to restore",
      actual: () => cartProd?.timeToRestore.medianSeconds,
      expected: 1.5 * HOUR,
    },
    { what: "restored failures", actual: () => cartProd?.timeToRestore.restored, expected: 3 },
    {
      what: "the bands",
      actual: () => cartProd?.bands,
      expected: {
        deploymentFrequency: "high",
        leadTime: "elite",
        changeFailureRate: "low",
        timeToRestore: "high",
      },
    },
    {
      what: "a named stage without deployments: none per day",
      actual: () => cartDev?.deploymentsPerDay,
      expected: 0,
    },
    {
      what: "a named stage without deployments: no lead time",
      actual: () => cartDev?.leadTime.medianSeconds,
      expected: null,
    },
    {
      what: "a named stage without deployments: no failure ratio",
      actual: () => cartDev?.changeFailure.ratio,
      expected: null,
    },
    {
      what: "a named stage without deployments: bands",
      actual: () => cartDev?.bands,
      expected: { deploymentFrequency: "low", leadTime: null, changeFailureRate: null, timeToRestore: null },
    },
    { what: "the window's length in days", actual: () => report.days, expected: 10 },
    { what: "one point a day", actual: () => cartProd?.series.length, expected: 10 },
    {
      what: "the day of the first rollback",
      actual: () => cartProd?.series[1],
      expected: {
        start: "2026-11-02T00:00:00.000Z",
        deployments: 1,
        failures: 1,
        leadTimeSeconds: 4 * HOUR,
        timeToRestoreSeconds: 1.5 * HOUR,
      },
    },
    {
      what: "a day without deployments",
      actual: () => cartProd?.series[2],
      expected: {
        start: "2026-11-03T00:00:00.000Z",
        deployments: 0,
        failures: 0,
        leadTimeSeconds: null,
        timeToRestoreSeconds: null,
      },
    },
  ];
  for (const { what, actual, expected } of expectations) {
    it(`counts ${what}`, () => assert.deepEqual(actual(), expected));
  }

  it("groups by ISO week, Monday first, in UTC", () => {
    const weekly = doraReport(prod, { ...window, bucket: "week" }).stages[0];
    assert.deepEqual(
      weekly?.series.map(({ start, deployments, failures }) => ({ start, deployments, failures })),
      [
        { start: "2026-10-26T00:00:00.000Z", deployments: 1, failures: 0 },
        { start: "2026-11-02T00:00:00.000Z", deployments: 4, failures: 3 },
        { start: "2026-11-09T00:00:00.000Z", deployments: 1, failures: 0 },
      ],
    );
    assert.equal(weekly?.series[1]?.timeToRestoreSeconds, 1.5 * HOUR);
  });

  it("counts a failure whose run never finished as not restored", () => {
    const stuck = doraReport(
      [delivery("prod", "s1", "ship", "2026-11-05T00:00:00.000Z", { state: "failed", finishedAt: null })],
      window,
    ).stages[0];
    assert.deepEqual(stuck?.timeToRestore, { medianSeconds: null, restored: 0, unrestored: 1 });
    assert.equal(stuck?.changeFailure.ratio, 1);
  });

  it("keeps stages and services apart: a rollback in one stage fails nothing in another", () => {
    const report2 = doraReport(
      [
        delivery("staging", "a1", "ship", "2026-11-05T00:00:00.000Z"),
        delivery("prod", "b1", "rollback", "2026-11-05T01:00:00.000Z"),
        { ...delivery("staging", "c1", "rollback", "2026-11-05T02:00:00.000Z"), service: "billing" },
      ],
      window,
    );
    const staging = report2.stages.find((s) => s.service === "cart" && s.stage === "staging");
    assert.equal(staging?.changeFailure.failed, 0);
    assert.equal(report2.stages.find((s) => s.stage === "prod")?.deployments, 0);
  });

  it("refuses a window that ends before it starts", () => {
    assert.throws(() => doraReport([], { ...window, until: window.since }), /empty/);
  });
});

describe("DORA's performance bands (2023 report, as upper bounds)", () => {
  const cases = [
    { band: frequencyBand, value: 3, expected: "elite" },
    { band: frequencyBand, value: 1, expected: "elite" },
    { band: frequencyBand, value: 1 / 7, expected: "high" },
    { band: frequencyBand, value: 1 / 8, expected: "medium" },
    { band: frequencyBand, value: 1 / 31, expected: "low" },
    { band: leadTimeBand, value: DAY - 1, expected: "elite" },
    { band: leadTimeBand, value: DAY, expected: "high" },
    { band: leadTimeBand, value: 7 * DAY, expected: "medium" },
    { band: leadTimeBand, value: 30 * DAY, expected: "low" },
    { band: failureRateBand, value: 0.05, expected: "elite" },
    { band: failureRateBand, value: 0.1, expected: "high" },
    { band: failureRateBand, value: 0.15, expected: "medium" },
    { band: failureRateBand, value: 0.16, expected: "low" },
    { band: restoreBand, value: HOUR - 1, expected: "elite" },
    { band: restoreBand, value: HOUR, expected: "high" },
    { band: restoreBand, value: DAY, expected: "medium" },
    { band: restoreBand, value: 7 * DAY, expected: "low" },
  ];
  for (const { band, value, expected } of cases) {
    it(`${band.name}(${value}) is ${expected}`, () => assert.equal(band(value), expected));
  }
});

describe("helpers", () => {
  const medians = [
    { values: [], expected: null },
    { values: [3], expected: 3 },
    { values: [5, 1, 3], expected: 3 },
    { values: [4, 1, 3, 2], expected: 2.5 },
  ];
  for (const { values, expected } of medians) {
    it(`the median of [${values.join(", ")}] is ${expected}`, () => assert.equal(median(values), expected));
  }

  const windows = [
    { text: "30d", expected: 30 * DAY * 1000 },
    { text: "12h", expected: 12 * HOUR * 1000 },
    { text: "2w", expected: 14 * DAY * 1000 },
    { text: "0d", expected: undefined },
    { text: "30", expected: undefined },
    { text: "1y", expected: undefined },
    { text: "99999w", expected: undefined },
  ];
  for (const { text, expected } of windows) {
    it(`reads the window "${text}" as ${expected}`, () => assert.equal(parseWindow(text), expected));
  }

  it("starts a week on Monday, in UTC", () => {
    assert.equal(
      new Date(bucketStart(Date.parse("2026-11-08T23:59:00Z"), "week")).toISOString(),
      "2026-11-02T00:00:00.000Z",
    );
    assert.equal(
      new Date(bucketStart(Date.parse("2026-11-09T00:00:00Z"), "week")).toISOString(),
      "2026-11-09T00:00:00.000Z",
    );
  });
});
