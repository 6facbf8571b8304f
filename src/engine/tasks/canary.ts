/**
 * The canary strategy: the new version gets a growing share of the stage's traffic, step by
 * step (10 → 50 by default; the last step, 100, is the release). At each step the stage's
 * proxy sees both versions under the same load, and the canary judge (Mann-Whitney, as
 * Kayenta) compares the canary's latency and error rate with the stable version's. A step
 * that does not pass aborts the canary and the stage rolls back. A marginal score aborts too:
 * nobody is there to look at it. With thousands of samples a rise of a fraction of a percent
 * is statistically significant, so latency also has to rise by more than
 * `canary.judge.allowedIncrease` (mean ratio, default 1.1) to fail, as Kayenta's effect size
 * threshold does.
 *
 * A target that cannot tell the versions' traffic apart (a cluster, seen from outside) gets
 * no load and no judgement: each step holds its weight for `stepDuration` on the stage's own
 * traffic, so the exposure still grows step by step, and the quality gate is what judged it.
 */
import { setTimeout } from "node:timers/promises";
import {
  judgeMetric,
  scoreGroups,
  type GroupedJudgement,
  type MetricJudgement,
} from "../../gate/canary-judge.js";
import { runLoad, loadOptionsFromSpec } from "../../loadgen/index.js";
import type { LoadSpec, StageSpec } from "../../spec/schema.js";
import { parseDuration } from "../../spec/units.js";
import type { CanaryTraffic, Target } from "../../targets/target.js";
import type { TaskContext, TaskHandler } from "../task.js";

const DEFAULT_LOAD: LoadSpec = {
  model: "open",
  rate: 50,
  duration: "10s",
  warmup: "0s",
  connections: 10,
  timeout: "5s",
  requests: [{ method: "GET", path: "/", headers: {}, weight: 1 }],
};

export const canaryTask: TaskHandler = {
  name: "canary",
  order: 65,
  perTarget: true,
  timeoutMs: 30 * 60_000,
  appliesTo: (run, stage) => run.kind === "ship" && stage.strategy === "canary",
  async run(context) {
    const canary = canarySettings(context.stage);
    const steps: Record<string, unknown>[] = [];
    for (const target of context.targets) {
      const targetContext = { ...context, previous: context.previous.get(target.name) };
      if (targetContext.previous === undefined) {
        steps.push({ target: target.name, skipped: "no stable version to compare with: first release" });
        continue;
      }
      for (const weight of canary.steps.filter((step) => step < 100)) {
        const traffic = await trafficAtStep(context, target, weight, parseDuration(canary.stepDuration));
        if (traffic.stable === null && traffic.canary === null) {
          steps.push({
            target: target.name,
            weight,
            interval: canary.stepDuration,
            judged: false,
            reason: unobservedReason(target),
          });
          continue;
        }
        const verdict = judgeStep(traffic, canary);
        steps.push({ target: target.name, weight, interval: canary.stepDuration, ...verdict });
        if (verdict.classification !== "pass") {
          return {
            kind: "failed",
            reason: `canary at ${weight}% on ${target.name} scored ${verdict.score} (${verdict.classification}): ${verdict.reason}`,
          };
        }
      }
    }
    return { kind: "succeeded", output: { steps } };
  },
};

async function trafficAtStep(
  context: TaskContext,
  target: Target,
  weight: number,
  stepMs: number,
): Promise<CanaryTraffic> {
  const targetContext = { ...context, previous: context.previous.get(target.name) };
  const step = await target.setCanaryWeight(targetContext, weight);
  const url = target.url(context.run.service, context.run.stage);
  if (url === undefined) {
    await setTimeout(stepMs, undefined, { signal: context.signal });
    return step.observe();
  }
  const load = context.spec.test.load ?? DEFAULT_LOAD;
  const options = loadOptionsFromSpec({ ...load, warmup: "0s" }, url);
  await runLoad({ ...options, durationMs: stepMs });
  return step.observe();
}

function unobservedReason(target: Target): string {
  return (
    `${target.name} cannot see each version's traffic, so the step held its weight on the stage's own ` +
    "traffic without a judgement; the stage's quality gate judged the release"
  );
}

export function judgeStep(
  traffic: CanaryTraffic,
  settings: NonNullable<StageSpec["canary"]>,
): {
  score: number;
  classification: "pass" | "marginal" | "fail";
  reason: string;
  metrics: Record<string, MetricJudgement>;
} {
  const options = {
    confidence: settings.judge.confidence,
    tolerance: settings.judge.tolerance,
    direction: "increase" as const,
  };
  const metrics: Record<string, MetricJudgement> = {};
  const judged: GroupedJudgement[] = [];
  if (settings.judge.metrics.includes("latency")) {
    metrics.latency = judgeMetric(
      traffic.stable?.latencySamplesMs ?? [],
      traffic.canary?.latencySamplesMs ?? [],
      {
        ...options,
        requireData: true,
        effectSize: "mean-ratio",
        allowedIncrease: settings.judge.allowedIncrease,
      },
    );
    judged.push({ ...metrics.latency, groups: ["latency"] });
  }
  if (settings.judge.metrics.includes("error")) {
    metrics.error_rate = judgeMetric(
      traffic.stable?.errorRatePerSecond ?? [],
      traffic.canary?.errorRatePerSecond ?? [],
      { ...options, nanStrategy: "replace", critical: true },
    );
    judged.push({ ...metrics.error_rate, groups: ["error"] });
  }
  const score = scoreGroups(
    judged,
    judged.map((j) => ({ name: j.groups[0] ?? "", weight: 100 / judged.length })),
    { pass: settings.judge.passScore, marginal: settings.judge.marginalScore },
  );
  const failing = Object.entries(metrics)
    .filter(([, m]) => m.classification !== "Pass" && m.classification !== "Nodata")
    .map(([name, m]) => `${name} ${m.classification}: ${m.reason}`);
  return {
    score: score.score,
    classification: score.classification,
    reason: failing.length > 0 ? failing.join("; ") : score.reason,
    metrics,
  };
}

function canarySettings(stage: StageSpec): NonNullable<StageSpec["canary"]> {
  return (
    stage.canary ?? {
      steps: [10, 50, 100],
      stepDuration: "10s",
      judge: {
        metrics: ["latency", "error"],
        confidence: 0.98,
        tolerance: 0.25,
        passScore: 95,
        marginalScore: 75,
        allowedIncrease: 1.1,
      },
    }
  );
}
