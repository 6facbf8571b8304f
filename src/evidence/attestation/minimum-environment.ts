/**
 * The minimum-environment predicate: what an artifact needs to run, each part with the evidence
 * behind it. Any part may be absent from one attestation, since different tasks learn them:
 *
 * - `sizing`, from a rightsizing experiment: each step's size, key SLIs and verdict, the proven
 *   minimum, the margin and the recommendation, the usage-based figure beside it;
 * - `runtimeLimits`, from the test: whether the language runtime took the limits it was given;
 * - `dependencies`, from the test: the SBOM's packages the process never loaded under the load.
 *
 * Pure; `parseMinimumEnvironment` reads a verified payload back into this type.
 */
import { z } from "zod";

const sizeSchema = z.strictObject({ cpu: z.string(), memory: z.string() });

const stepSchema = z.strictObject({
  phase: z.enum(["cpu", "memory", "confirm"]),
  size: sizeSchema,
  passed: z.boolean(),
  reason: z.string(),
  durationMs: z.number(),
  /** The key SLIs of the trial and of the reference at the declared size */
  trial: z.record(z.string(), z.number()).nullable(),
  reference: z.record(z.string(), z.number()).nullable(),
});

export const sizingSchema = z.strictObject({
  declared: sizeSchema,
  /** The digests of waybill.yaml's test and slo sections the experiment ran with */
  configuration: z.strictObject({ test: z.string(), slo: z.string() }),
  bounds: z.strictObject({
    maxSteps: z.number().int(),
    maxDurationMs: z.number(),
    stoppedEarly: z.string().nullable(),
  }),
  steps: z.array(stepSchema),
  provenMinimum: sizeSchema,
  margin: z.number(),
  recommended: sizeSchema.extend({ confirmed: z.boolean().nullable(), note: z.string().nullable() }),
  usageBased: sizeSchema.extend({ method: z.string() }).nullable(),
  saving: z.strictObject({ cpuPct: z.number(), memoryPct: z.number() }),
});

const runtimeLimitsSchema = z.union([
  z.strictObject({
    runtime: z.string(),
    expected: z.record(z.string(), z.string()),
    seen: z.record(z.string(), z.string()),
    mismatches: z.array(z.string()),
  }),
  z.strictObject({ unobservable: z.string() }),
]);

const dependenciesSchema = z.strictObject({
  recorded: z.boolean(),
  loaded: z.array(z.string()),
  neverLoaded: z.array(
    z.strictObject({ purl: z.string(), name: z.string(), version: z.string(), bytes: z.number() }),
  ),
  neverLoadedBytes: z.number(),
  shareOfArtifactPct: z.number(),
  caveat: z.string(),
});

export const minimumEnvironmentSchema = z.strictObject({
  stage: z.string(),
  target: z.string(),
  sizing: sizingSchema.nullable(),
  runtimeLimits: runtimeLimitsSchema.nullable(),
  dependencies: dependenciesSchema.nullable(),
  window: z.strictObject({ start: z.string(), end: z.string() }),
});

export type MinimumEnvironmentPredicate = z.output<typeof minimumEnvironmentSchema>;
export type SizingReport = z.output<typeof sizingSchema>;
export type DependencyUsage = z.output<typeof dependenciesSchema>;

export function parseMinimumEnvironment(predicate: unknown): MinimumEnvironmentPredicate | null {
  const parsed = minimumEnvironmentSchema.safeParse(predicate);
  return parsed.success ? parsed.data : null;
}
