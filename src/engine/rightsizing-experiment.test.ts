import { test } from "node:test";
import assert from "node:assert/strict";
import type { PairedJudgement } from "../gate/paired-comparison.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  DEFAULT_MARGIN,
  DEFAULT_RESOLUTION,
  MEBIBYTE,
  defaultFloor,
  type RecordedStep,
  type SearchPlan,
} from "../gate/rightsizing.js";
import { serviceSpecSchema, sloSchema, type LoadSpec } from "../spec/schema.js";
import type { SizedUsage, SizeLimits, SizingLab } from "../targets/target.js";
import { judgeStep, runExperiment } from "./rightsizing-experiment.js";

const slo = sloSchema.parse({
  objectives: [
    { sli: "latency_p95", pass: [{ criteria: ["<=100", "<=+50%"] }] },
    { sli: "error_rate", pass: [{ criteria: ["<1"] }], key_sli: true },
    { sli: "queue_depth", pass: [{ criteria: ["<10"] }] },
  ],
  total_score: { pass: "90%", warning: "75%" },
});

function judged(decision: PairedJudgement["decision"]): PairedJudgement {
  return {
    sli: "latency_p95",
    criteria: "<=+50%",
    samples: { baseline: 100, candidate: 100 },
    unit: "ratio",
    bound: 1.5,
    typical: { estimate: 1, low: 1, high: 1 },
    percentile: null,
    decision,
    reason: `decided ${decision} on the samples`,
  };
}

const vectors: {
  name: string;
  trial: Record<string, number>;
  paired: PairedJudgement[];
  passed: boolean;
  reason: RegExp;
}[] = [
  {
    name: "a trial as fast as the declared size passes",
    trial: { latency_p95: 12, error_rate: 0 },
    paired: [judged("holds")],
    passed: true,
    reason: /every SLO passed/,
  },
  {
    name: "a trial past the absolute bound fails",
    trial: { latency_p95: 400, error_rate: 0 },
    paired: [judged("violated")],
    passed: false,
    reason: /latency_p95 = 400 violates <=100/,
  },
  {
    name: "a trial that errors fails on the key SLI",
    trial: { latency_p95: 12, error_rate: 5 },
    paired: [judged("holds")],
    passed: false,
    reason: /error_rate key SLI = 5 violates <1/,
  },
  {
    name: "a relative criterion violated on the samples fails even inside the absolute bound",
    trial: { latency_p95: 60, error_rate: 0 },
    paired: [judged("violated")],
    passed: false,
    reason: /decided violated on the samples/,
  },
];

for (const vector of vectors) {
  test(`a rightsizing step: ${vector.name}`, () => {
    const verdict = judgeStep(slo, vector.trial, { latency_p95: 10, error_rate: 0 }, vector.paired);
    assert.equal(verdict.passed, vector.passed, verdict.reason);
    assert.match(verdict.reason, vector.reason);
  });
}

test("a rightsizing step judges only the SLIs the experiment measures, and none at all is no pass", () => {
  const verdict = judgeStep(slo, { latency_p95: 10, error_rate: 0 }, { latency_p95: 10, error_rate: 0 }, []);
  assert.equal(verdict.passed, true, "queue_depth, from elsewhere, is not judged");
  const nothing = judgeStep(
    sloSchema.parse({ objectives: [{ sli: "queue_depth", pass: [{ criteria: ["<10"] }] }] }),
    { latency_p95: 10 },
    { latency_p95: 10 },
    [],
  );
  assert.equal(nothing.passed, false);
  assert.match(nothing.reason, /no objective on an SLI the test load measures/);
});

/**
 * A sizing lab whose copies are modelled: a trial below the need answers slowly (CPU) or cannot
 * start (memory), so the experiment's own logic (the order of steps, resuming, its bounds) runs
 * against real HTTP load through a real server.
 */
class ModelLab implements SizingLab {
  readonly referenceHeaders = { "x-side": "reference" };
  readonly trialHeaders = { "x-side": "trial" };
  readonly started: string[] = [];
  url = "";
  referenceSlow = false;
  private trialSize: SizeLimits | null = null;
  private readonly sizes = new Map<string, SizeLimits>();
  private readonly server = createServer((request, response) => {
    const trial = request.headers["x-side"] === "trial";
    const starved = trial ? (this.trialSize?.cpuMillicores ?? 0) < need.cpuMillicores : this.referenceSlow;
    setTimeout(() => response.end("ok"), starved ? 150 : 1);
  });

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async shut(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
  async start(name: string, size: SizeLimits): Promise<void> {
    if (name !== "reference") this.started.push(`${size.cpuMillicores}m ${size.memoryBytes / MEBIBYTE}Mi`);
    if (size.memoryBytes < need.memoryBytes) throw new Error("exited on signal SIGKILL");
    this.sizes.set(name, size);
  }
  async pair(_reference: string, trial: string): Promise<void> {
    this.trialSize = this.sizes.get(trial) ?? null;
  }
  async measure() {
    const usage = (limit: number): SizedUsage => ({
      cpuSeconds: 0.1,
      memoryMaxMib: 50,
      cpuThrottledPct: 0,
      perSecond: { cpuMillicores: [Math.min(limit, need.cpuMillicores) / 2], memoryMib: [50] },
      oomKills: 0,
      restarts: 0,
    });
    return {
      stop: async () => ({
        reference: usage(declaredSize.cpuMillicores),
        trial: usage(this.trialSize?.cpuMillicores ?? 0),
      }),
    };
  }
  async stop(name: string): Promise<void> {
    this.sizes.delete(name);
  }
  async close(): Promise<void> {
    this.sizes.clear();
  }
}

const need: SizeLimits = { cpuMillicores: 300, memoryBytes: 200 * MEBIBYTE };
const declaredSize: SizeLimits = { cpuMillicores: 1000, memoryBytes: 512 * MEBIBYTE };
const experimentSpec = serviceSpecSchema.parse({
  metadata: { name: "model" },
  run: { command: "node server.js" },
  test: { load: { rate: 40, duration: "500ms", maxDuration: "500ms", warmup: 0, requests: [{ path: "/" }] } },
  slo: { objectives: [{ sli: "latency_p95", pass: [{ criteria: ["<=100"] }] }] },
});
const plan: SearchPlan = {
  declared: declaredSize,
  floor: defaultFloor(declaredSize),
  maxSteps: 7,
  resolution: DEFAULT_RESOLUTION,
  margin: DEFAULT_MARGIN,
};

async function experiment(lab: ModelLab, recorded: RecordedStep[] = [], deadlineMs = Date.now() + 120_000) {
  const reported: RecordedStep[] = [];
  const outcome = await runExperiment({
    lab,
    plan,
    load: experimentSpec.test.load as LoadSpec,
    slo: typeof experimentSpec.slo === "string" ? undefined : experimentSpec.slo,
    recorded,
    deadlineMs,
    signal: AbortSignal.timeout(120_000),
    progress: () => undefined,
    onStep: async (step) => void reported.push(step),
  });
  return { ...outcome, reported };
}

test("an experiment resumed after a crash runs only the steps it had not recorded", async () => {
  const whole = new ModelLab();
  await whole.listen();
  const resumed = new ModelLab();
  await resumed.listen();
  try {
    const first = await experiment(whole);
    assert.equal(first.steps.length, 7, JSON.stringify(first.steps.map((step) => [step.size, step.reason])));
    assert.match(first.stoppedEarly ?? "", /the step bound \(7\) was reached/);
    const second = await experiment(resumed, first.steps.slice(0, 4));
    assert.deepEqual(resumed.started, whole.started.slice(4), "no recorded step ran again");
    assert.equal(second.reported.length, 3, "only the new steps were reported for recording");
    assert.deepEqual(
      second.steps.map((step) => [step.phase, step.size, step.passed]),
      first.steps.map((step) => [step.phase, step.size, step.passed]),
    );
    const proven = first.steps.filter((step) => step.passed && step.phase === "cpu");
    assert.ok(proven.every((step) => step.size.cpuMillicores >= need.cpuMillicores));
  } finally {
    await whole.shut();
    await resumed.shut();
  }
});

test("an experiment past its time bound starts no step, and says which bound stopped it", async () => {
  const lab = new ModelLab();
  await lab.listen();
  try {
    const outcome = await experiment(lab, [], Date.now());
    assert.deepEqual(outcome.steps, []);
    assert.deepEqual(lab.started, []);
    assert.match(outcome.stoppedEarly ?? "", /the time bound was reached after 0 steps/);
  } finally {
    await lab.shut();
  }
});

test("a window in which the declared size itself misses the SLO judges nothing, and the experiment stops", async () => {
  const lab = new ModelLab();
  lab.referenceSlow = true;
  await lab.listen();
  try {
    const outcome = await experiment(lab);
    assert.deepEqual(outcome.steps, [], "no verdict was recorded from a window that could not judge");
    assert.equal(lab.started.length, 3, "the step ran three times");
    assert.match(
      outcome.stoppedEarly ?? "",
      /step 1 could not be judged in 3 attempts: the declared size itself missed the SLO/,
    );
  } finally {
    await lab.shut();
  }
});
