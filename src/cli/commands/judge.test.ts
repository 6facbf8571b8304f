import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Command } from "commander";
import { capture, userErrorOf } from "../../testing/cli.js";
import { judgeCommand } from "./judge.js";

const dir = mkdtempSync(join(tmpdir(), "waybill-judge-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function samples(content: string): string {
  const path = join(dir, `samples-${++fileCount}.json`);
  writeFileSync(path, content);
  return path;
}

interface PrintedJudgement {
  classification: string;
  critical: boolean;
  estimate: number | null;
  ci: [number | null, number | null];
  pValue: number | null;
  effectSize: number | null;
}

async function judgeJson(
  options: Record<string, unknown>,
): Promise<{ exit: number; printed: PrintedJudgement }> {
  const { context, out } = capture(join(dir, ".waybill"));
  const exit = await judgeCommand.run([], { ...options, json: true }, context);
  return { exit, printed: JSON.parse(out()) as PrintedJudgement };
}

const baseline = samples("[1, 2.2, 1.1, 2.5, 3]");
const higher = samples("[20, 22, 21, 25, 30]");

describe("waybill judge", () => {
  it("classifies a higher canary as High, exits 1 and prints the test as JSON", async () => {
    const { exit, printed } = await judgeJson({ baseline, canary: higher });
    assert.equal(exit, 1);
    assert.equal(printed.classification, "High");
    assert.equal(printed.critical, false);
    assert.equal(printed.estimate, 20);
    assert.ok(printed.ci[0] !== null && printed.ci[0] > 16.9 && printed.ci[0] < 17.1);
    assert.ok(printed.pValue !== null && Math.abs(printed.pValue - 0.0121857803553448) < 1e-12);
    assert.ok(printed.effectSize !== null && Math.abs(printed.effectSize - 23.6 / 1.96) < 1e-12);
  });

  it("passes the same samples and prints values it did not compute as null", async () => {
    const { exit, printed } = await judgeJson({ baseline, canary: samples("[3, 2.5, 1.1, 2.2, 1]") });
    assert.equal(exit, 0);
    assert.equal(printed.classification, "Pass");
    assert.deepEqual([printed.estimate, printed.ci, printed.pValue], [null, [null, null], null]);
  });

  it("marks a critical metric's failure critical with --critical", async () => {
    const { printed } = await judgeJson({ baseline, canary: higher, critical: true });
    assert.equal(printed.critical, true);
  });

  it("passes a rise when only a decrease fails", async () => {
    const { exit, printed } = await judgeJson({ baseline, canary: higher, direction: "decrease" });
    assert.equal(exit, 0);
    assert.equal(printed.classification, "Pass");
  });

  it("passes a rise below --allowed-increase, given as text the way commander passes it", async () => {
    const { printed } = await judgeJson({ baseline, canary: higher, allowedIncrease: "13" });
    assert.equal(printed.classification, "Pass");
  });

  it("uses the common-language effect size with --effect-size cles", async () => {
    const { printed } = await judgeJson({ baseline, canary: higher, effectSize: "cles" });
    assert.equal(printed.effectSize, 1);
  });

  it("exits 0 on Nodata, and 1 when the metric requires data", async () => {
    const empty = samples("[null, null]");
    assert.equal((await judgeJson({ baseline, canary: empty })).printed.classification, "Nodata");
    assert.equal((await judgeJson({ baseline, canary: empty })).exit, 0);
    const required = await judgeJson({ baseline, canary: empty, requireData: true });
    assert.deepEqual([required.printed.classification, required.exit], ["NodataFailMetric", 1]);
  });

  it("exits 1 when a critical metric has no data", async () => {
    const { exit, printed } = await judgeJson({ baseline, canary: samples("[]"), critical: true });
    assert.deepEqual([printed.classification, printed.critical, exit], ["Nodata", true, 1]);
  });

  it("counts null as 0 with --nan-strategy replace", async () => {
    const zeros = samples("[0, 0, 0]");
    const { printed } = await judgeJson({
      baseline: zeros,
      canary: samples("[null, 0, null]"),
      nanStrategy: "replace",
    });
    assert.equal(printed.classification, "Pass");
  });

  it("prints a readable judgement without --json", async () => {
    const { context, out } = capture(join(dir, ".waybill"));
    await judgeCommand.run([], { baseline, canary: higher, confidence: "0.95" }, context);
    assert.match(out(), /^High\nthe canary is higher: the 95% interval \[17\.8, 27\.8\] lies above 5\n/);
    assert.match(out(), /95% interval +\[17\.8, 27\.8\]/);
    assert.match(out(), /effect size +12\.04 \(mean-ratio\)/);
  });

  it("names the file, line and column of bad JSON", async () => {
    const bad = samples("[1, 2,\n 3,, 4]");
    const error = await userErrorOf(() =>
      judgeCommand.run([], { baseline, canary: bad }, capture(join(dir, ".waybill")).context),
    );
    assert.equal(error.exitCode, 2);
    assert.equal(error.message, `${bad}:2:4: invalid JSON: Unexpected token ','`);
  });

  it("names the entry that is not a number", async () => {
    const bad = samples('[1, "NaN"]');
    const error = await userErrorOf(() =>
      judgeCommand.run([], { baseline: bad, canary: higher }, capture(join(dir, ".waybill")).context),
    );
    assert.equal(error.message, `${bad}: [1]: expected a number or null, got "NaN"`);
  });

  const badOptions: { options: Record<string, unknown>; says: string }[] = [
    { options: { confidence: "1.5" }, says: '--confidence: expected a number between 0 and 1, got "1.5"' },
    { options: { tolerance: "-1" }, says: '--tolerance: expected a number 0 or more, got "-1"' },
    {
      options: { allowedIncrease: "lots" },
      says: '--allowed-increase: expected a number 0 or more, got "lots"',
    },
    { options: { direction: "up" }, says: '--direction: expected either, increase or decrease, got "up"' },
    { options: { nanStrategy: "zero" }, says: '--nan-strategy: expected remove or replace, got "zero"' },
  ];
  for (const { options, says } of badOptions) {
    it(`refuses ${JSON.stringify(options)}`, async () => {
      const error = await userErrorOf(() =>
        judgeCommand.run(
          [],
          { baseline, canary: higher, ...options },
          capture(join(dir, ".waybill")).context,
        ),
      );
      assert.equal(error.message, says);
    });
  }

  it("declares its flags so commander passes them through", () => {
    const command = judgeCommand.configure(new Command("judge")).exitOverride();
    command.parse(
      [
        "--baseline",
        "b.json",
        "--canary",
        "c.json",
        "--direction",
        "increase",
        "--confidence",
        "0.9",
        "--tolerance",
        "0.1",
        "--effect-size",
        "cles",
        "--allowed-increase",
        "0.8",
        "--allowed-decrease",
        "0.2",
        "--critical-increase",
        "0.9",
        "--critical-decrease",
        "0.1",
        "--critical",
        "--require-data",
        "--nan-strategy",
        "replace",
        "--json",
      ],
      { from: "user" },
    );
    assert.deepEqual(command.opts(), {
      baseline: "b.json",
      canary: "c.json",
      direction: "increase",
      confidence: "0.9",
      tolerance: "0.1",
      effectSize: "cles",
      allowedIncrease: "0.8",
      allowedDecrease: "0.2",
      criticalIncrease: "0.9",
      criticalDecrease: "0.1",
      critical: true,
      requireData: true,
      nanStrategy: "replace",
      json: true,
    });
  });
});
