/**
 * What the Run page's panels show, read from the run view's events as `waybill run <id>` reads
 * them: the canary's steps (the canary task's output, or its failure), the rightsizing experiment
 * (`rightsize.recorded`), and where the latency went on a stage with mutual TLS (`test.measured`'s
 * `security`, as a share of the SLO's latency budget). The events' data is the API's
 * `Record<string, unknown>`; it is read here once, through schemas that accept what the engine
 * writes and ignore the rest. Pure, so the tests run it in Node.
 */
import { z } from "zod";
import type { EventView } from "../../api/runs.js";
import { eventKind, type TaskSpan } from "./format.js";

export interface CanaryStep {
  target: string;
  /** The canary's share of the traffic, %; null for a target that was skipped */
  weight: number | null;
  /** How long the step held its weight (the stage's `stepDuration`); null for a skipped target */
  interval: string | null;
  /** pass, marginal, fail; "not judged" when the target could not see each version's traffic; "skipped" */
  verdict: string;
  score: number | null;
  reason: string;
}

export interface CanaryPanel {
  state: TaskSpan["state"];
  steps: CanaryStep[];
  /** Why the canary stopped, with the step that stopped it */
  failure: string | null;
}

const canaryStepSchema = z.object({
  target: z.string(),
  weight: z.number().optional(),
  interval: z.string().optional(),
  skipped: z.string().optional(),
  judged: z.literal(false).optional(),
  score: z.number().optional(),
  classification: z.string().optional(),
  reason: z.string().optional(),
});

/** The last canary task of the run, or null when the run had none */
export function canaryPanel(tasks: readonly TaskSpan[]): CanaryPanel | null {
  const span = tasks.findLast((candidate) => candidate.task === "canary");
  if (span === undefined) return null;
  const parsed = z.array(canaryStepSchema).safeParse(span.output?.["steps"] ?? []);
  const steps = (parsed.success ? parsed.data : []).map((step): CanaryStep => ({
    target: step.target,
    weight: step.weight ?? null,
    interval: step.interval ?? null,
    verdict:
      step.skipped !== undefined
        ? "skipped"
        : step.judged === false
          ? "not judged"
          : (step.classification ?? "not judged"),
    score: step.score ?? null,
    reason: step.skipped ?? step.reason ?? "",
  }));
  return { state: span.state, steps, failure: span.state === "failed" ? span.reason : null };
}

const sizeSchema = z.object({ cpu: z.string(), memory: z.string() });

const sizingSchema = z.object({
  declared: sizeSchema,
  bounds: z.object({ maxSteps: z.number(), maxDurationMs: z.number(), stoppedEarly: z.string().nullable() }),
  steps: z.array(
    z.object({
      phase: z.string(),
      size: sizeSchema,
      passed: z.boolean(),
      reason: z.string(),
      durationMs: z.number(),
      trial: z.record(z.string(), z.number()).nullable(),
      reference: z.record(z.string(), z.number()).nullable(),
    }),
  ),
  provenMinimum: sizeSchema,
  margin: z.number(),
  recommended: sizeSchema.extend({ confirmed: z.boolean().nullable(), note: z.string().nullable() }),
  usageBased: sizeSchema.extend({ method: z.string() }).nullable(),
  saving: z.object({ cpuPct: z.number(), memoryPct: z.number() }),
});

const rightsizedSchema = z.object({ stage: z.string(), target: z.string(), sizing: sizingSchema.nullable() });

export type Rightsizing = z.output<typeof sizingSchema> & { stage: string; target: string };

/** The run's rightsizing experiment, when it ran one that sized anything */
export function rightsizingPanel(events: readonly EventView[]): Rightsizing | null {
  const recorded = lastData(events, "rightsize.recorded");
  const parsed = rightsizedSchema.safeParse(recorded);
  if (!parsed.success || parsed.data.sizing === null) return null;
  return { ...parsed.data.sizing, stage: parsed.data.stage, target: parsed.data.target };
}

/** Whether the experiment's recommendation was confirmed, in words */
export function confirmation(recommended: Rightsizing["recommended"]): string {
  if (recommended.confirmed === true) return "confirmed: both limits together passed";
  if (recommended.confirmed === false) return recommended.note ?? "the confirmation failed";
  return "not confirmed: the bounds ended the search first";
}

const intervalSchema = z.object({ estimate: z.number(), low: z.number(), high: z.number() });

const measuredSchema = z.object({
  slis: z.record(z.string(), z.number()),
  security: z.object({
    breakdown: z
      .object({
        app: z.object({ p50: z.number(), p99: z.number() }),
        proxyAdded: z.object({ p50: intervalSchema, p99: intervalSchema }),
      })
      .nullable(),
    addedP50: intervalSchema,
    addedP99: intervalSchema,
    samples: z.object({ plain: z.number(), secured: z.number() }),
  }),
});

export interface BudgetRow {
  part: string;
  p50: number | null;
  p99: number | null;
  /** The p99 as a share of the SLO's latency budget, %; null without a budget */
  share: number | null;
}

export interface SecurityBudget {
  /** The SLI whose absolute pass bound is the budget, and the bound in ms */
  budget: { sli: string; ms: number } | null;
  rows: BudgetRow[];
  addedP50: z.output<typeof intervalSchema>;
  addedP99: z.output<typeof intervalSchema>;
  samples: { plain: number; secured: number };
}

/** The SLO's objectives as the gate's table gives them: an SLI and its pass criteria */
export interface BudgetObjective {
  sli: string;
  passTargets: readonly { criteria: string }[];
}

/** The latency budget of the SLO: the absolute pass bound of its p99 objective, else its p95 */
export function latencyBudget(objectives: readonly BudgetObjective[]): { sli: string; ms: number } | null {
  for (const sli of ["latency_p99", "latency_p95"]) {
    const objective = objectives.find((candidate) => candidate.sli === sli);
    for (const target of objective?.passTargets ?? []) {
      const match = /^<=?\s*(\d+(?:\.\d+)?)$/.exec(target.criteria.trim());
      if (match !== null) return { sli, ms: Number(match[1]) };
    }
  }
  return null;
}

/**
 * Where the end-to-end latency went on a stage with mutual TLS: the proxy, TLS and the app, in ms
 * and as a share of the SLO's latency budget; null when the run measured no TLS
 */
export function securityBudgetPanel(
  events: readonly EventView[],
  objectives: readonly BudgetObjective[],
): SecurityBudget | null {
  const parsed = measuredSchema.safeParse(lastData(events, "test.measured"));
  if (!parsed.success) return null;
  const { slis, security } = parsed.data;
  const budget = latencyBudget(objectives);
  const row = (part: string, p50: number | undefined, p99: number | undefined): BudgetRow => ({
    part,
    p50: p50 ?? null,
    p99: p99 ?? null,
    share: budget === null || p99 === undefined ? null : Math.round((1000 * p99) / budget.ms) / 10,
  });
  const rest = (total: number | undefined, added: number) =>
    total === undefined ? undefined : Math.max(0, total - Math.max(0, added));
  const endToEnd = { p50: slis["latency_p50"], p99: slis["latency_p99"] };
  // The tail TLS costs is the added p99, never below the typical request's cost
  const tls = row(
    "TLS",
    security.addedP50.estimate,
    Math.max(security.addedP99.estimate, security.addedP50.estimate),
  );
  const rows =
    security.breakdown === null
      ? [
          row(
            "proxy and app",
            rest(endToEnd.p50, security.addedP50.estimate),
            rest(endToEnd.p99, security.addedP99.estimate),
          ),
          tls,
        ]
      : [
          row(
            "proxy",
            security.breakdown.proxyAdded.p50.estimate,
            security.breakdown.proxyAdded.p99.estimate,
          ),
          tls,
          row("app", security.breakdown.app.p50, security.breakdown.app.p99),
        ];
  return {
    budget,
    rows: [...rows, row("end to end", endToEnd.p50, endToEnd.p99)],
    addedP50: security.addedP50,
    addedP99: security.addedP99,
    samples: security.samples,
  };
}

/** A predicate type's URI in a few words (`https://cyclonedx.org/bom` → SBOM) */
export function predicateLabel(predicateType: string): string {
  const known: Record<string, string> = {
    "https://slsa.dev/provenance/v1": "SLSA provenance",
    "https://cyclonedx.org/bom": "SBOM (CycloneDX)",
    "https://in-toto.io/attestation/vulns/v0.2": "vulnerability scan",
    "https://in-toto.io/attestation/test-result/v0.1": "test result",
    "https://waybill.dev/attestation/slo-evaluation/v0.1": "SLO evaluation",
    "https://waybill.dev/attestation/minimum-environment/v0.1": "minimum environment",
  };
  return known[predicateType] ?? predicateType;
}

function lastData(events: readonly EventView[], kind: string): unknown {
  return events.filter((event) => eventKind(event.type) === kind).at(-1)?.data;
}
