import assert from "node:assert/strict";
import { test } from "node:test";
import type { EventView } from "../../api/runs.js";
import type { TaskSpan } from "./format.js";
import {
  canaryPanel,
  latencyBudget,
  predicateLabel,
  rightsizingPanel,
  securityBudgetPanel,
  type BudgetObjective,
} from "./run-panels.js";

function span(
  task: string,
  state: TaskSpan["state"],
  output: Record<string, unknown> | null,
  reason: string | null = null,
): TaskSpan {
  return {
    task,
    state,
    output,
    reason,
    attempt: 1,
    startedAt: "2026-01-01T00:00:00Z",
    finishedAt: state === "running" ? null : "2026-01-01T00:00:10Z",
  };
}

let seq = 0;
function event(kind: string, data: Record<string, unknown>): EventView {
  seq += 1;
  return {
    specversion: "1.0",
    id: `e-${seq}`,
    source: "/waybill",
    type: `dev.waybill.${kind}`,
    time: "2026-01-01T00:00:00Z",
    subject: "runs/r-1",
    data,
  };
}

test("the canary's steps read as the canary task recorded them, its failure from the task's reason", () => {
  const cases: { name: string; tasks: TaskSpan[]; expected: ReturnType<typeof canaryPanel> }[] = [
    { name: "no canary task", tasks: [span("deploy", "succeeded", null)], expected: null },
    {
      name: "judged steps and a first release",
      tasks: [
        span("canary", "succeeded", {
          steps: [
            {
              target: "local",
              weight: 20,
              interval: "30s",
              score: 100,
              classification: "pass",
              reason: "all metrics pass",
              metrics: {},
            },
            { target: "kube", skipped: "no stable version to compare with: first release" },
            { target: "edge", weight: 50, judged: false, reason: "edge cannot see each version's traffic" },
          ],
        }),
      ],
      expected: {
        state: "succeeded",
        failure: null,
        steps: [
          {
            target: "local",
            weight: 20,
            interval: "30s",
            verdict: "pass",
            score: 100,
            reason: "all metrics pass",
          },
          {
            target: "kube",
            weight: null,
            interval: null,
            verdict: "skipped",
            score: null,
            reason: "no stable version to compare with: first release",
          },
          {
            target: "edge",
            weight: 50,
            interval: null,
            verdict: "not judged",
            score: null,
            reason: "edge cannot see each version's traffic",
          },
        ],
      },
    },
    {
      name: "a failed canary, the last attempt counting",
      tasks: [
        span("canary", "failed", null, "an earlier attempt"),
        span("canary", "failed", null, "canary at 20% on local scored 0 (fail): latency High"),
      ],
      expected: {
        state: "failed",
        steps: [],
        failure: "canary at 20% on local scored 0 (fail): latency High",
      },
    },
    {
      name: "steps of a shape it does not know are left out, not guessed",
      tasks: [span("canary", "succeeded", { steps: [{ weight: "twenty" }] })],
      expected: { state: "succeeded", steps: [], failure: null },
    },
  ];
  for (const { name, tasks, expected } of cases) assert.deepEqual(canaryPanel(tasks), expected, name);
});

test("the latency budget is the p99 objective's absolute pass bound, else the p95's", () => {
  const cases: { objectives: BudgetObjective[]; expected: ReturnType<typeof latencyBudget> }[] = [
    { objectives: [], expected: null },
    {
      objectives: [{ sli: "latency_p95", passTargets: [{ criteria: "<=+10%" }, { criteria: "<=500" }] }],
      expected: { sli: "latency_p95", ms: 500 },
    },
    {
      objectives: [
        { sli: "latency_p95", passTargets: [{ criteria: "<=500" }] },
        { sli: "latency_p99", passTargets: [{ criteria: "< 750.5" }] },
      ],
      expected: { sli: "latency_p99", ms: 750.5 },
    },
    { objectives: [{ sli: "latency_p95", passTargets: [{ criteria: "<=+10%" }] }], expected: null },
  ];
  for (const { objectives, expected } of cases) {
    assert.deepEqual(latencyBudget(objectives), expected, JSON.stringify(objectives));
  }
});

const interval = (estimate: number) => ({ estimate, low: estimate - 0.1, high: estimate + 0.1 });

test("the security budget splits the latency into proxy, TLS and app, each a share of the SLO's budget", () => {
  const objectives = [{ sli: "latency_p95", passTargets: [{ criteria: "<=200" }] }];
  const measured = (breakdown: unknown) =>
    event("test.measured", {
      slis: { latency_p50: 10, latency_p99: 40 },
      security: {
        breakdown,
        addedP50: interval(1),
        addedP99: interval(3),
        securedP99: 40,
        samples: { plain: 400, secured: 400 },
      },
    });
  const withProxy = securityBudgetPanel(
    [measured({ app: { p50: 8, p99: 30 }, proxyAdded: { p50: interval(0.5), p99: interval(2) } })],
    objectives,
  );
  assert.deepEqual(withProxy?.budget, { sli: "latency_p95", ms: 200 });
  assert.deepEqual(withProxy?.rows, [
    { part: "proxy", p50: 0.5, p99: 2, share: 1 },
    { part: "TLS", p50: 1, p99: 3, share: 1.5 },
    { part: "app", p50: 8, p99: 30, share: 15 },
    { part: "end to end", p50: 10, p99: 40, share: 20 },
  ]);

  const withoutBreakdown = securityBudgetPanel([measured(null)], []);
  assert.equal(withoutBreakdown?.budget, null);
  assert.deepEqual(withoutBreakdown?.rows, [
    { part: "proxy and app", p50: 9, p99: 37, share: null },
    { part: "TLS", p50: 1, p99: 3, share: null },
    { part: "end to end", p50: 10, p99: 40, share: null },
  ]);

  assert.equal(
    securityBudgetPanel([event("test.measured", { slis: { latency_p99: 40 } })], objectives),
    null,
    "no TLS measured",
  );
  assert.equal(securityBudgetPanel([], objectives), null, "no test");
});

test("the rightsizing panel reads the run's last report, and none without a sizing", () => {
  const sizing = {
    declared: { cpu: "500m", memory: "128Mi" },
    configuration: { test: "a", slo: "b" },
    bounds: { maxSteps: 8, maxDurationMs: 600_000, stoppedEarly: null },
    steps: [
      {
        phase: "cpu",
        size: { cpu: "250m", memory: "128Mi" },
        passed: true,
        reason: "",
        durationMs: 5000,
        trial: { latency_p95: 120 },
        reference: { latency_p95: 110 },
      },
    ],
    provenMinimum: { cpu: "250m", memory: "64Mi" },
    margin: 0.2,
    recommended: { cpu: "300m", memory: "77Mi", confirmed: true, note: null },
    usageBased: null,
    saving: { cpuPct: 40, memoryPct: 40 },
  };
  const report = rightsizingPanel([
    event("rightsize.recorded", {
      stage: "staging",
      target: "local",
      sizing: null,
      runtimeLimits: null,
      dependencies: null,
    }),
    event("rightsize.recorded", {
      stage: "staging",
      target: "local",
      sizing,
      runtimeLimits: null,
      dependencies: null,
    }),
  ]);
  assert.equal(report?.stage, "staging");
  assert.equal(report?.recommended.cpu, "300m");
  assert.equal(report?.steps.length, 1);
  assert.equal(
    rightsizingPanel([event("rightsize.recorded", { stage: "staging", target: "local", sizing: null })]),
    null,
  );
  assert.equal(rightsizingPanel([]), null);
});

test("predicate types read in a few words; an unknown one as its URI", () => {
  const cases: [string, string][] = [
    ["https://cyclonedx.org/bom", "SBOM (CycloneDX)"],
    ["https://in-toto.io/attestation/vulns/v0.2", "vulnerability scan"],
    ["https://example.com/custom/v1", "https://example.com/custom/v1"],
  ];
  for (const [type, label] of cases) assert.equal(predicateLabel(type), label);
});
