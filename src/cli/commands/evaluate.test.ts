import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Command } from "commander";
import { capture, userErrorOf } from "../../testing/cli.js";
import { evaluateCommand } from "./evaluate.js";

const dir = mkdtempSync(join(tmpdir(), "waybill-evaluate-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function file(content: string, name = `input-${++fileCount}.json`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const slo = file(
  `spec_version: "1.0"
comparison:
  compare_with: several_results
  number_of_comparison_results: 2
  include_result_with_score: pass
  aggregate_function: avg
objectives:
  - sli: latency_p95
    displayName: p95 latency
    pass: [{criteria: ["<=200", "<=+10%"]}]
    warning: [{criteria: ["<=400"]}]
  - sli: error_rate
    pass: [{criteria: ["<1"]}]
    key_sli: true
  - sli: throughput
total_score: {pass: "90%", warning: "50%"}
`,
  "slo.yaml",
);
const previous = file(
  JSON.stringify([
    { result: "fail", values: { latency_p95: 900, error_rate: 5 } },
    { result: "pass", values: { latency_p95: 150, error_rate: 0.1 } },
    { result: "pass", values: { latency_p95: 170, error_rate: null } },
    { result: "pass", values: { latency_p95: 10, error_rate: 0 } },
  ]),
);

describe("waybill evaluate", () => {
  it("passes, exits 0 and prints a table of the objectives", async () => {
    const { context, out } = capture(join(dir, ".waybill"));
    const sli = file('{"latency_p95": 160, "error_rate": 0.2, "throughput": 95}');
    assert.equal(await evaluateCommand.run([], { slo, sli, previous }, context), 0);
    assert.match(out(), /^PASS {2}score 100 \(pass 90%, warning 50%\)/);
    assert.match(
      out(),
      /p95 latency \(latency_p95\) +pass +1\/1 +160 +160 +<=200 ✓, <=\+10% \(176\) ✓ +<=400 ✓/,
    );
    assert.match(out(), /error_rate \[key\] +pass/);
    assert.match(out(), /throughput +info +- +95/);
    assert.match(
      out(),
      /compared with 2 earlier evaluations \(several_results, up to 2, include pass, avg\)/,
    );
  });

  it("exits 3 on a warning", async () => {
    const sli = file('{"latency_p95": 190, "error_rate": 0.2}');
    assert.equal(
      await evaluateCommand.run([], { slo, sli, previous }, capture(join(dir, ".waybill")).context),
      3,
    );
  });

  it("fails the evaluation when a key SLI fails, and exits 1", async () => {
    const { context, out } = capture(join(dir, ".waybill"));
    const sli = file('{"latency_p95": 150, "error_rate": 3}');
    assert.equal(await evaluateCommand.run([], { slo, sli, previous }, context), 1);
    assert.match(out(), /key SLI error_rate failed/);
  });

  it("prints the evaluation as JSON with --json", async () => {
    const { context, out } = capture(join(dir, ".waybill"));
    const sli = file('{"latency_p95": 160, "error_rate": 0.2}');
    await evaluateCommand.run([], { slo, sli, previous, json: true }, context);
    const printed = JSON.parse(out()) as {
      result: string;
      score: number;
      objectives: {
        sli: string;
        status: string;
        score: number;
        value: { value: number; success: boolean };
      }[];
      comparison: { comparedIndexes: number[] };
    };
    assert.equal(printed.result, "pass");
    assert.equal(printed.score, 100);
    assert.deepEqual(
      printed.objectives.map(({ sli, status, score, value }) => ({
        sli,
        status,
        score,
        success: value.success,
      })),
      [
        { sli: "latency_p95", status: "pass", score: 1, success: true },
        { sli: "error_rate", status: "pass", score: 1, success: true },
        { sli: "throughput", status: "info", score: 0, success: false },
      ],
    );
    // include_result_with_score first (the failed newest result is skipped), then the 2 newest.
    assert.deepEqual(printed.comparison.comparedIndexes, [1, 2]);
  });

  it("reads Keptn's indicatorValues, where success false means no value", async () => {
    const { context, out } = capture(join(dir, ".waybill"));
    const sli = file(
      JSON.stringify([
        { metric: "latency_p95", value: 160, success: true },
        { metric: "error_rate", value: 0, success: false, message: "no data" },
      ]),
    );
    assert.equal(await evaluateCommand.run([], { slo, sli, json: true }, context), 1);
    const printed = JSON.parse(out()) as { objectives: { sli: string; status: string }[] };
    assert.equal(printed.objectives.find((objective) => objective.sli === "error_rate")?.status, "fail");
  });

  it("compares with nothing when no earlier evaluations are given", async () => {
    const { context, out } = capture(join(dir, ".waybill"));
    const sli = file('{"latency_p95": 199, "error_rate": 0}');
    assert.equal(await evaluateCommand.run([], { slo, sli }, context), 0);
    assert.match(out(), /<=\+10% \(no baseline\) ✓/);
    assert.match(out(), /compared with 0 earlier evaluations/);
  });

  it("names the file, line and column of bad JSON", async () => {
    const sli = file('{\n  "latency_p95": 160,\n  "error_rate": \n}');
    const error = await userErrorOf(() =>
      evaluateCommand.run([], { slo, sli }, capture(join(dir, ".waybill")).context),
    );
    assert.equal(error.exitCode, 2);
    assert.equal(error.message, `${sli}:4:1: invalid JSON: Unexpected token '}'`);
  });

  it("names the file and the entry of an earlier evaluation with a wrong shape", async () => {
    const sli = file('{"latency_p95": 160}');
    const badPrevious = file('[{"result": "pass", "values": {}}, {"result": "ok", "values": {}}]');
    const error = await userErrorOf(() =>
      evaluateCommand.run([], { slo, sli, previous: badPrevious }, capture(join(dir, ".waybill")).context),
    );
    assert.equal(error.message, `${badPrevious}: [1].result: expected "pass", "warning" or "fail"`);
  });

  it("names the SLO file, the objective and the criteria it cannot read", async () => {
    const badSlo = file(
      'objectives:\n  - sli: latency\n    pass: [{criteria: ["<=200ms"]}]\n',
      "bad-criteria.yaml",
    );
    const sli = file('{"latency": 1}');
    const error = await userErrorOf(() =>
      evaluateCommand.run([], { slo: badSlo, sli }, capture(join(dir, ".waybill")).context),
    );
    assert.match(
      error.message,
      /bad-criteria\.yaml:3:24: objectives\[0\]\.pass\[0\]\.criteria\[0\]: invalid criteria "<=200ms": expected a number/,
    );
  });

  it("reports an SLO file that does not validate with its line", async () => {
    const badSlo = file("objectives:\n  - sli: latency\n    pas: []\n", "typo.yaml");
    const sli = file('{"latency": 1}');
    const error = await userErrorOf(() =>
      evaluateCommand.run([], { slo: badSlo, sli }, capture(join(dir, ".waybill")).context),
    );
    assert.match(error.message, /typo\.yaml:3:/);
  });

  it("says when a file cannot be read", async () => {
    const error = await userErrorOf(() =>
      evaluateCommand.run(
        [],
        { slo, sli: join(dir, "missing.json") },
        capture(join(dir, ".waybill")).context,
      ),
    );
    assert.match(error.message, /^cannot read .*missing\.json/);
  });

  it("declares its flags so commander passes them through", () => {
    const command = evaluateCommand.configure(new Command("evaluate")).exitOverride();
    command.parse(["--slo", "s.yaml", "--sli", "v.json", "--previous", "p.json", "--json"], { from: "user" });
    assert.deepEqual(command.opts(), { slo: "s.yaml", sli: "v.json", previous: "p.json", json: true });
  });
});
