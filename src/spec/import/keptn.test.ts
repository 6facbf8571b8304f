import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { fixturesDir } from "../../testing/paths.js";
import { importKeptn, type ImportedStage } from "./keptn.js";
import { importOpenSlo } from "./openslo.js";

const fixture = (name: string) => ({
  file: name,
  text: readFileSync(join(fixturesDir, "keptn", name), "utf8"),
});
const stage = (name: string, fields: Partial<ImportedStage>): ImportedStage => ({
  name,
  strategy: "direct",
  approval: { pass: "automatic", warning: "automatic" },
  test: false,
  gate: false,
  ...fields,
});

describe("importing a Keptn shipyard", () => {
  const cases: Array<{ file: string; stages: ImportedStage[]; unmapped: string[] }> = [
    {
      file: "sockshop-shipyard.yaml",
      stages: [
        stage("dev", { test: true, gate: true }),
        stage("staging", { strategy: "blue-green", test: true, gate: true }),
        stage("production", { strategy: "blue-green", approval: { pass: "manual", warning: "manual" } }),
      ],
      unmapped: ['sockshop-shipyard.yaml:47:11: stage production: sequence "remediation"'],
    },
    {
      file: "podtato-shipyard.yaml",
      stages: [
        stage("hardening", { test: true, gate: true }),
        stage("production", { strategy: "blue-green", approval: { pass: "automatic", warning: "manual" } }),
      ],
      unmapped: [
        'podtato-shipyard.yaml:19:11: stage hardening: sequence "delivery-direct"',
        'podtato-shipyard.yaml:38:15: stage production: task "notify-slack"',
      ],
    },
    {
      file: "multistage-shipyard.yaml",
      stages: [
        stage("qa", { test: true, gate: true }),
        stage("staging", { strategy: "blue-green", test: true, gate: true }),
        stage("production", { gate: true, approval: { pass: "manual", warning: "manual" } }),
      ],
      unmapped: [
        'multistage-shipyard.yaml:39:11: stage staging: sequence "rollback"',
        'multistage-shipyard.yaml:59:17: stage production: deploymentstrategy "canary"',
      ],
    },
  ];
  for (const { file, stages, unmapped } of cases) {
    it(`maps ${file} stage by stage, and lists what it cannot map with file:line:col`, () => {
      const imported = importKeptn(fixture(file));
      assert.deepEqual(imported.stages, stages);
      assert.deepEqual(
        imported.unmapped.map((item) => `${item.where}: ${item.what}`.replace(/ \(Waybill .*$/, "")),
        unmapped,
      );
    });
  }

  it("turns Keptn's SLI placeholders into Waybill's, and names the ones it cannot", () => {
    const imported = importKeptn(fixture("sockshop-shipyard.yaml"), fixture("sli.yaml"));
    assert.equal(
      imported.prometheusQueries.error_rate,
      `sum(rate(http_requests_total{job="$service-$stage",status!~'2..'}[$duration]))/sum(rate(http_requests_total{job="$service-$stage"}[$duration]))*100`,
    );
    assert.match(imported.prometheusQueries.response_time_p95 ?? "", /job="\$service-\$PROJECT-\$stage"/);
    const project = imported.unmapped.find((item) => item.what.includes("$PROJECT"));
    assert.match(project?.where ?? "", /^sli\.yaml:4:22$/);
  });

  it("refuses a file that is not a shipyard, with where", () => {
    assert.throws(
      () => importKeptn({ file: "slo.yaml", text: "spec_version: '0.1.1'\nobjectives: []\n" }),
      (error: unknown) =>
        error instanceof UserError && /^slo\.yaml:1:1: .*not a Keptn shipyard/.test(error.message),
    );
  });

  it("gives a YAML syntax error its line and column", () => {
    assert.throws(
      () => importKeptn({ file: "broken.yaml", text: "kind: Shipyard\nspec:\n  stages: [\n" }),
      (error: unknown) =>
        error instanceof UserError && /^broken\.yaml:\d+:\d+: not valid YAML/.test(error.message),
    );
  });
});

describe("importing OpenSLO objects", () => {
  it("turns a ratio metric into a percentage SLI and a threshold metric into its own, with criteria", () => {
    const imported = importOpenSlo(fixture("openslo.yaml"));
    assert.equal(imported.service, "checkout");
    assert.deepEqual(imported.objectives, [
      { sli: "checkout_availability", pass: [{ criteria: [">=99.5"] }] },
      { sli: "checkout_latency_p95", pass: [{ criteria: ["<=0.3"] }] },
    ]);
    assert.match(
      imported.prometheusQueries.checkout_availability ?? "",
      /^100 \* \(sum\(increase\(.*code!~"5\.\."\}\[\$duration\]\)\)\) \/ \(sum/,
    );
    assert.deepEqual(
      imported.unmapped.map((item) => item.what),
      ["SLO checkout-datadog: an indicator that is neither a Prometheus ratio nor a threshold metric"],
    );
  });
});
