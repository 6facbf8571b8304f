import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildProvenancePredicate, type ProvenanceInput } from "./provenance.js";
import { buildSloEvaluationPredicate, type SloEvaluationInput } from "./slo-evaluation.js";
import { buildTestResultPredicate } from "./test-result.js";

const commit = "0123456789abcdef0123456789abcdef01234567";
const lockDigest = "ab".repeat(32);

describe("SLSA provenance v1 predicate", () => {
  const input: ProvenanceInput = {
    service: "cart",
    command: "npm ci && npm run build",
    internalParameters: { workingDirectory: "examples/cart" },
    source: {
      repository: "https://github.com/acme/cart.git",
      ref: "refs/heads/main",
      commit,
      dirty: true,
      signedCommit: false,
    },
    lockfiles: [{ path: "package-lock.json", sha256: lockDigest }],
    invocationId: "run-42",
    startedOn: new Date("2026-01-02T03:04:05Z"),
    finishedOn: "2026-01-02T04:05:00+01:00",
  };

  it("records the build command, source commit, lockfiles and run", () => {
    assert.deepEqual(buildProvenancePredicate(input), {
      buildDefinition: {
        buildType: "https://waybill.dev/build/command/v1",
        externalParameters: { command: "npm ci && npm run build", service: "cart" },
        internalParameters: { workingDirectory: "examples/cart" },
        resolvedDependencies: [
          {
            uri: "git+https://github.com/acme/cart.git@refs/heads/main",
            digest: { sha1: commit },
            annotations: { dirty: true, signedCommit: false },
          },
          { name: "package-lock.json", digest: { sha256: lockDigest } },
        ],
      },
      runDetails: {
        builder: { id: "https://waybill.dev/builder/local/v1" },
        metadata: {
          invocationId: "run-42",
          startedOn: "2026-01-02T03:04:05.000Z",
          finishedOn: "2026-01-02T03:05:00.000Z",
        },
      },
    });
  });

  it("annotates the source with the commit's time, in UTC, where the build knew it", () => {
    const predicate = buildProvenancePredicate({
      ...input,
      source: { ...input.source, committedAt: "2026-01-01T23:00:00+01:00" },
    });
    assert.deepEqual(predicate.buildDefinition.resolvedDependencies[0]?.annotations, {
      dirty: true,
      signedCommit: false,
      committedAt: "2026-01-01T22:00:00.000Z",
    });
  });

  const refusals = [
    {
      name: "a short commit",
      change: { source: { ...input.source, commit: "abc123" } },
      message: /commit must be 40/,
    },
    {
      name: "an upper-case lockfile digest",
      change: { lockfiles: [{ path: "go.sum", sha256: "AB".repeat(32) }] },
      message: /go\.sum: sha256/,
    },
    {
      name: "a run that ends before it starts",
      change: { finishedOn: "2026-01-02T03:04:05+01:00" },
      message: /finishedOn is before startedOn/,
    },
    {
      name: "a time that is not one",
      change: { startedOn: "yesterday" },
      message: /startedOn is not a valid time/,
    },
    {
      name: "a commit time that is not one",
      change: { source: { ...input.source, committedAt: "last week" } },
      message: /committedAt is not a valid time/,
    },
  ];
  for (const { name, change, message } of refusals) {
    it(`refuses ${name}`, () => {
      assert.throws(() => buildProvenancePredicate({ ...input, ...change }), message);
    });
  }
});

describe("test-result v0.1 predicate", () => {
  const configuration = [{ name: "waybill.yaml", digest: { sha256: lockDigest } }];
  const cases = [
    { name: "all passed", lists: { passedTests: ["a", "b"] }, result: "PASSED" },
    { name: "a warning", lists: { passedTests: ["a"], warnedTests: ["b"] }, result: "WARNED" },
    {
      name: "a failure beats a warning",
      lists: { passedTests: [], warnedTests: ["b"], failedTests: ["c"] },
      result: "FAILED",
    },
  ];
  for (const { name, lists, result } of cases) {
    it(`derives ${result} from ${name}`, () => {
      const predicate = buildTestResultPredicate({ configuration, ...lists });
      assert.equal(predicate.result, result);
      assert.deepEqual(predicate.failedTests, lists.failedTests ?? []);
      assert.equal("url" in predicate, false);
    });
  }

  it("keeps an explicit result and the report url", () => {
    const predicate = buildTestResultPredicate({
      result: "WARNED",
      configuration,
      url: "https://ci/report",
      passedTests: ["a"],
    });
    assert.deepEqual(predicate, {
      result: "WARNED",
      configuration,
      url: "https://ci/report",
      passedTests: ["a"],
      warnedTests: [],
      failedTests: [],
    });
  });
});

describe("slo-evaluation predicate", () => {
  const input: SloEvaluationInput = {
    stage: "staging",
    result: "pass",
    score: 95,
    objectives: [
      {
        sli: "latency_p95",
        status: "pass",
        value: 230,
        score: 1,
        weight: 1,
        keySli: true,
        passCriteria: ["<600"],
        warningCriteria: ["<800"],
      },
      {
        sli: "error_rate",
        status: "info",
        value: null,
        score: 0,
        weight: 1,
        keySli: false,
        passCriteria: [],
        warningCriteria: [],
      },
    ],
    sloDigest: `sha256:${"CD".repeat(32)}`,
    baseline: null,
    window: { start: "2026-01-02T03:00:00Z", end: new Date("2026-01-02T03:10:00Z") },
  };

  it("records the verdict, objectives, SLO digest, baseline and window", () => {
    const predicate = buildSloEvaluationPredicate(input);
    assert.deepEqual(Object.keys(predicate), [
      "stage",
      "result",
      "score",
      "objectives",
      "sloDigest",
      "baseline",
      "window",
    ]);
    assert.equal(predicate.sloDigest, `sha256:${"cd".repeat(32)}`);
    assert.deepEqual(predicate.window, {
      start: "2026-01-02T03:00:00.000Z",
      end: "2026-01-02T03:10:00.000Z",
    });
    assert.equal(predicate.objectives.length, 2);
  });

  it("refuses a score outside 0–100, a bad digest and a backwards window", () => {
    assert.throws(
      () => buildSloEvaluationPredicate({ ...input, score: 101 }),
      /score must be between 0 and 100/,
    );
    assert.throws(() => buildSloEvaluationPredicate({ ...input, sloDigest: "abc" }), /not a sha256 digest/);
    assert.throws(
      () =>
        buildSloEvaluationPredicate({
          ...input,
          window: { start: "2026-01-02T04:00:00Z", end: "2026-01-02T03:00:00Z" },
        }),
      /window ends before it starts/,
    );
  });
});
