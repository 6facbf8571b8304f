/** Performance signatures: the gate's verdict per build, and what moved between two builds. */
import { z } from "zod";
import { defineRoute } from "./contract.js";

const gateResult = z.enum(["pass", "warning", "fail"]);
/**
 * A measured quantity the server holds as a number that may be NaN or infinite (an estimate the
 * samples cannot give, a value with nothing to compare): JSON carries those as null, and the
 * reader gets NaN back, as the server had it.
 */
const measured = z
  .number()
  .nullable()
  .transform((value) => value ?? Number.NaN);
const interval = z.object({ estimate: measured, low: measured, high: measured });
const relativeDecision = z.enum(["holds", "violated", "undecided"]);

const criterionTarget = z.object({
  criteria: z.string(),
  targetValue: measured,
  violated: z.boolean(),
  judged: z.object({ decision: relativeDecision, reason: z.string() }).optional(),
});

/** The gate's evaluation, as Keptn's lighthouse reports it */
export const evaluationSchema = z.object({
  result: gateResult,
  score: measured,
  message: z.string(),
  objectives: z.array(
    z.object({
      sli: z.string(),
      displayName: z.string(),
      status: z.enum(["pass", "warning", "fail", "info"]),
      score: measured,
      weight: z.number(),
      keySli: z.boolean(),
      value: z.object({
        metric: z.string(),
        value: measured,
        success: z.boolean(),
        message: z.string(),
        comparedValue: measured.optional(),
      }),
      passTargets: z.array(criterionTarget),
      warningTargets: z.array(criterionTarget),
      inconclusive: z.string().optional(),
    }),
  ),
  comparison: z.object({
    compareWith: z.enum(["single_result", "several_results"]),
    numberOfComparisonResults: z.number(),
    includeResultWithScore: z.enum(["all", "pass", "pass_or_warn"]),
    aggregateFunction: z.enum(["avg", "p50", "p90", "p95"]),
    comparedIndexes: z.array(z.number()),
  }),
  totalScore: z.object({ pass: z.number(), warning: z.number().optional() }),
});

export const pairedJudgementSchema = z.object({
  sli: z.string(),
  criteria: z.string(),
  samples: z.object({ baseline: z.number(), candidate: z.number() }),
  unit: z.enum(["ratio", "shift"]),
  bound: measured,
  typical: interval,
  percentile: interval.nullable(),
  decision: relativeDecision,
  reason: z.string(),
});

/** One build's signature in a stage: the SLI vector the gate judged, and its verdict */
export const signatureSchema = z.object({
  runId: z.string(),
  service: z.string(),
  stage: z.string(),
  digest: z.string(),
  version: z.string(),
  result: gateResult,
  score: z.number(),
  values: z.record(z.string(), z.number().nullable()),
  noValueReasons: z.record(z.string(), z.string()),
  sloDigest: z.string().nullable(),
  baseline: z.array(z.string()),
  baselineKind: z.enum(["concurrent", "history"]).optional(),
  paired: z.array(pairedJudgementSchema).optional(),
  window: z.object({ start: z.string(), end: z.string() }).nullable(),
  recordedAt: z.string(),
});

export const evaluationRecordSchema = signatureSchema.extend({
  evaluation: evaluationSchema,
  latencySamplesMs: z.array(z.number()).optional(),
});
export type EvaluationRecordView = z.output<typeof evaluationRecordSchema>;

const signaturesQuery = z.strictObject({ service: z.string().optional(), stage: z.string().optional() });

export const listSignatures = defineRoute({
  method: "GET",
  path: "/v1/signatures",
  role: "viewer",
  tag: "signatures",
  summary: "A service's performance signatures, newest first (the service may be left out when there is one)",
  query: signaturesQuery,
  response: { status: 200, schema: z.object({ signatures: z.array(signatureSchema) }) },
});

export const signatureDiffSchema = z.object({
  service: z.string(),
  stage: z.string(),
  a: z.string(),
  b: z.string(),
  changes: z.array(
    z.object({
      sli: z.string(),
      a: z.number().nullable(),
      b: z.number().nullable(),
      absolute: z.number().nullable(),
      relativePct: z.number().nullable(),
      significant: z.boolean().nullable(),
      classification: z.string().nullable(),
    }),
  ),
});

export const diffSignatures = defineRoute({
  method: "GET",
  path: "/v1/signatures/diff",
  role: "viewer",
  tag: "signatures",
  summary:
    "What moved between two builds' signatures (each by run id, version or digest), and whether it is significant",
  query: signaturesQuery.extend({ a: z.string().min(1), b: z.string().min(1) }),
  response: { status: 200, schema: signatureDiffSchema },
});

const cellStatus = z.enum(["pass", "warning", "fail", "info"]);

/** One SLI of one build, as the gate judged it: what a heatmap cell and a trend point show */
export const heatmapCellSchema = z.object({
  status: cellStatus,
  /** null when the SLI had no value (why is in the build's noValueReasons) */
  value: z.number().nullable(),
  /** What relative criteria compared with (the baseline's aggregate); null when nothing was */
  baseline: z.number().nullable(),
  score: z.number().nullable(),
  passCriteria: z.array(z.string()),
  warningCriteria: z.array(z.string()),
  /**
   * The pass and warning thresholds as numbers for this build (a relative criterion's target
   * follows its baseline), the strictest of each list; null when there is none
   */
  passThreshold: z.number().nullable(),
  warningThreshold: z.number().nullable(),
  /** Which side of a threshold is good: "lower" for `<` criteria, "higher" for `>` */
  better: z.enum(["lower", "higher"]).nullable(),
});
export type HeatmapCellView = z.output<typeof heatmapCellSchema>;

export const signatureHeatmapSchema = z.object({
  service: z.string(),
  stage: z.string(),
  /** Builds evaluated in the stage, all pages together */
  total: z.number().int(),
  /** The rows: every SLI any build of this page was judged on, key SLIs first */
  slis: z.array(z.object({ sli: z.string(), displayName: z.string(), keySli: z.boolean() })),
  /** The columns, newest first */
  builds: z.array(
    z.object({
      runId: z.string(),
      version: z.string(),
      digest: z.string(),
      result: gateResult,
      score: z.number(),
      recordedAt: z.string(),
      noValueReasons: z.record(z.string(), z.string()),
      cells: z.record(z.string(), heatmapCellSchema),
    }),
  ),
  /** The run id to pass as `before` for the next, older page; null on the last */
  next: z.string().nullable(),
});
export type SignatureHeatmapView = z.output<typeof signatureHeatmapSchema>;

export const HEATMAP_PAGE_MAX = 500;

export const signatureHeatmap = defineRoute({
  method: "GET",
  path: "/v1/signatures/heatmap",
  role: "viewer",
  tag: "signatures",
  summary:
    "A stage's SLIs x builds as the gate judged them (status, value, baseline, thresholds), newest builds first, a page at a time",
  query: z.strictObject({
    service: z.string().min(1).optional(),
    stage: z.string().min(1),
    limit: z.coerce.number().int().min(1).max(HEATMAP_PAGE_MAX).default(50),
    /** A run id from an earlier page's `next`: the builds evaluated before it */
    before: z.string().min(1).optional(),
  }),
  response: { status: 200, schema: signatureHeatmapSchema },
});

export const signatureRoutes = [listSignatures, diffSignatures, signatureHeatmap];
