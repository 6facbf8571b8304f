import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import type { DoraReportView } from "../../api/dora.js";
import { doraTable, duration, percent, perDay } from "./dora.js";

const cliEntry = fileURLToPath(new URL("../main.js", import.meta.url));
const stateDir = mkdtempSync(join(tmpdir(), "waybill-dora-cli-"));
after(() => rmSync(stateDir, { recursive: true, force: true }));

const report: DoraReportView = {
  since: "2026-11-04T12:00:00.000Z",
  until: "2026-12-04T12:00:00.000Z",
  days: 30,
  bucket: "week",
  stages: [
    {
      service: "cart",
      stage: "prod",
      deployments: 2,
      deploymentsPerDay: 2 / 30,
      leadTime: { medianSeconds: 5_400, fromCommit: 1, fromShip: 1 },
      changeFailure: { failed: 1, ratio: 0.5 },
      timeToRestore: { medianSeconds: 3_900, restored: 1, unrestored: 0 },
      bands: {
        deploymentFrequency: "medium",
        leadTime: "elite",
        changeFailureRate: "low",
        timeToRestore: "high",
      },
      series: [],
    },
    {
      service: "cart",
      stage: "staging",
      deployments: 0,
      deploymentsPerDay: 0,
      leadTime: { medianSeconds: null, fromCommit: 0, fromShip: 0 },
      changeFailure: { failed: 0, ratio: null },
      timeToRestore: { medianSeconds: null, restored: 0, unrestored: 0 },
      bands: { deploymentFrequency: "low", leadTime: null, changeFailureRate: null, timeToRestore: null },
      series: [],
    },
  ],
};

describe("waybill dora", () => {
  it("prints a table of each stage's four keys with their bands", () => {
    assert.equal(
      doraTable(report, "30d"),
      [
        "DORA over the last 30d (2026-11-04 to 2026-12-04)",
        "SERVICE  STAGE    DEPLOYMENT FREQUENCY  LEAD TIME      CHANGE FAILURE RATE  TIME TO RESTORE",
        "cart     prod     2/month  medium       1h 30m  elite  50% (1 of 2)  low    1h 5m  high",
        "cart     staging  0/day  low            -              -                    -",
        "lead time started at the ship for 1 of 2 deployments (their build recorded no commit time)",
        "bands: elite, high, medium, low, after the 2023 Accelerate State of DevOps report",
        "",
      ].join("\n"),
    );
  });

  it("says so when there are no services", () => {
    assert.match(doraTable({ ...report, stages: [] }, "7d"), /no services yet/);
  });

  const units = [
    { format: perDay, value: 2.34, expected: "2.3/day" },
    { format: perDay, value: 0, expected: "0/day" },
    { format: perDay, value: 0.5, expected: "3.5/week" },
    { format: perDay, value: 0.1, expected: "3/month" },
    { format: duration, value: 42, expected: "42s" },
    { format: duration, value: 12 * 60 + 10, expected: "12m" },
    { format: duration, value: 4 * 3_600 + 12 * 60, expected: "4h 12m" },
    { format: duration, value: 3 * 86_400 + 4 * 3_600, expected: "3d 4h" },
    { format: percent, value: 0.123, expected: "12%" },
  ];
  for (const { format, value, expected } of units) {
    it(`shows ${value} as ${expected} (${format.name})`, () => assert.equal(format(value), expected));
  }

  it("refuses a --since it cannot read with exit 2 and one line, before reaching a control plane", () => {
    const result = spawnSync(process.execPath, [cliEntry, "--state", stateDir, "dora", "--since", "30"], {
      encoding: "utf8",
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--since: expected a window such as 12h, 30d or 4w.*got "30"/);
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.equal(existsSync(join(stateDir, "control-plane.json")), false);
    assert.deepEqual(
      readdirSync(stateDir).filter((name) => name.endsWith(".db")),
      [],
    );
  });
});
