import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { serviceSpecSchema, type StageSpec } from "../spec/schema.js";
import { covers, enforcePolicy, weakenings, type ProtectedPolicy } from "./protected-policy.js";

function stage(fields: Record<string, unknown>): StageSpec {
  const spec = serviceSpecSchema.parse({
    metadata: { name: "shop" },
    run: { command: "node server.js" },
    stages: [{ name: "production", ...fields }],
  });
  const [parsed] = spec.stages;
  if (parsed === undefined) throw new Error("no stage");
  return parsed;
}

const strict: ProtectedPolicy = {
  approval: { pass: "manual", warning: "manual" },
  requires: [
    "sbom",
    { vulns: { max_severity: "medium" } },
    { "slo-evaluation": { from_stage: "staging", min_result: "pass" } },
  ],
  gate: true,
  targets: ["local"],
};

describe("a ship's stage against the platform's policy", () => {
  const vectors: { name: string; stage: Record<string, unknown>; weakened: string[] }[] = [
    {
      name: "the same stage weakens nothing",
      stage: {
        approval: { pass: "manual" },
        requires: ["sbom", "vulns", { "slo-evaluation": { from_stage: "staging" } }],
      },
      weakened: [],
    },
    {
      name: "a stage with no approval and no requires weakens both approvals and every requirement",
      stage: {},
      weakened: [
        "stages.production.approval.pass",
        "stages.production.requires",
        "stages.production.requires",
        "stages.production.requires",
      ],
    },
    {
      name: "stricter evidence covers the policy's: no vulns at all, and more evidence besides",
      stage: {
        approval: { pass: "manual" },
        requires: [
          "provenance",
          "sbom",
          { vulns: { max_severity: "none" } },
          { "slo-evaluation": { from_stage: "staging" } },
        ],
      },
      weakened: [],
    },
    {
      name: "allowing high vulnerabilities where the policy allows medium weakens requires",
      stage: {
        approval: { pass: "manual" },
        requires: [
          "sbom",
          { vulns: { max_severity: "high" } },
          { "slo-evaluation": { from_stage: "staging" } },
        ],
      },
      weakened: ["stages.production.requires"],
    },
    {
      name: "an slo-evaluation from another stage, or one that accepts a warning, does not cover the policy's",
      stage: {
        approval: { pass: "manual" },
        requires: ["sbom", "vulns", { "slo-evaluation": { from_stage: "dev", min_result: "warning" } }],
      },
      weakened: ["stages.production.requires"],
    },
    {
      name: "switching the gate off weakens the gate",
      stage: {
        approval: { pass: "manual" },
        requires: ["sbom", "vulns", { "slo-evaluation": { from_stage: "staging" } }],
        gate: false,
      },
      weakened: ["stages.production.gate"],
    },
    {
      name: "other targets are a change of policy",
      stage: {
        approval: { pass: "manual" },
        requires: ["sbom", "vulns", { "slo-evaluation": { from_stage: "staging" } }],
        targets: ["local", "local"],
      },
      weakened: ["stages.production.targets"],
    },
  ];
  for (const vector of vectors) {
    test(vector.name, () => {
      const found = weakenings(strict, stage(vector.stage), "stages.production").map((w) => w.field);
      assert.deepEqual(found, vector.weakened);
    });
  }

  test("a default for every service leaves the targets to each service", () => {
    const { targets: _targets, ...anyTargets } = strict;
    const asStrict = stage({ approval: { pass: "manual" }, requires: strict.requires });
    const onACluster: StageSpec = { ...asStrict, target: undefined, targets: ["kube:prod", "kube:prod-eu"] };
    assert.deepEqual(weakenings(anyTargets, onACluster, "stages.production"), []);
    assert.deepEqual(enforcePolicy(onACluster, anyTargets).targets, ["kube:prod", "kube:prod-eu"]);
  });
});

describe("the policy as a floor at run time", () => {
  test("a loose stage runs with the policy's approvals, evidence, gate and targets", () => {
    const enforced = enforcePolicy(stage({ gate: false, requires: ["provenance"] }), strict);
    assert.deepEqual(enforced.approval, { pass: "manual", warning: "manual", timeout: "24h" });
    assert.deepEqual(enforced.requires, ["provenance", ...strict.requires]);
    assert.equal(enforced.gate, true);
    assert.deepEqual(enforced.targets, ["local"]);
  });

  test("a stage stricter than its policy keeps what it asks", () => {
    const loose: ProtectedPolicy = {
      approval: { pass: "automatic", warning: "automatic" },
      requires: [],
      gate: false,
    };
    const shipped = stage({ approval: { pass: "manual" }, requires: [{ vulns: { max_severity: "none" } }] });
    const enforced = enforcePolicy(shipped, loose);
    assert.deepEqual(enforced.approval, shipped.approval);
    assert.deepEqual(enforced.requires, shipped.requires);
    assert.equal(enforced.gate, true);
  });

  test("no policy leaves the stage as shipped", () => {
    const shipped = stage({});
    assert.equal(enforcePolicy(shipped, undefined), shipped);
  });
});

describe("which requirement covers which", () => {
  const vectors: [unknown, unknown, boolean][] = [
    ["sbom", "sbom", true],
    ["sbom", { sbom: {} }, true],
    ["sbom", "provenance", false],
    ["vulns", { vulns: { max_severity: "medium" } }, true],
    ["vulns", { vulns: { max_severity: "low" } }, false],
    [{ vulns: { max_severity: "critical" } }, "vulns", false],
    [
      { vulns: { max_severity: "medium", max_age: "1d" } },
      { vulns: { max_severity: "medium", max_age: "7d" } },
      true,
    ],
    [
      { vulns: { max_severity: "medium", max_age: "8d" } },
      { vulns: { max_severity: "medium", max_age: "7d" } },
      false,
    ],
    ["vulns", { vulns: { max_severity: "medium", max_age: "7d" } }, false],
    [{ vulns: { max_severity: "medium", max_age: "7d" } }, "vulns", true],
    [{ "test-result": { passed: false } }, "test-result", false],
    ["test-result", { "test-result": { passed: false } }, true],
    [{ "slo-evaluation": { from_stage: "staging", min_result: "pass" } }, "slo-evaluation", true],
    ["slo-evaluation", { "slo-evaluation": { from_stage: "staging", min_result: "pass" } }, false],
    [{ "slo-evaluation": { min_result: "warning" } }, { "slo-evaluation": { min_result: "warning" } }, true],
  ];
  for (const [offered, required, expected] of vectors) {
    test(`${JSON.stringify(offered)} ${expected ? "covers" : "does not cover"} ${JSON.stringify(required)}`, () => {
      const parse = (requirement: unknown) => stage({ requires: [requirement] }).requires[0];
      const a = parse(offered);
      const b = parse(required);
      assert.ok(a !== undefined && b !== undefined);
      assert.equal(covers(a, b), expected);
    });
  }
});
