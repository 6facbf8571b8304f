/**
 * The whole waybill.yaml schema, the single source for validation, the TypeScript types and
 * the published JSON Schema. Objects are strict: an unknown field is an error. Every field
 * has a default except `metadata.name` and `run`.
 */
import { posix } from "node:path";
import { z } from "zod";
import { CriteriaSyntaxError, parseCriteria } from "../gate/criteria.js";
import { commandProblem } from "./units.js";
import {
  LOCAL_TARGET,
  targetKindOf,
  targetKinds,
  targetNameMessage,
  targetNamePattern,
} from "./target-kinds.js";

const durationPattern = /^(0|(\d+(\.\d+)?(ms|s|m|h|d))+)$/;
const durationMessage = "expected a duration such as 0, 500ms, 30s, 5m, 1h30m or 7d";
// The type error repeats the format, so `timeout: 30` says what to write instead of "a string".
// A bare 0 is no time at all, as "0s" is; YAML reads it as a number.
export const durationSchema = z.union(
  [
    z.string({ error: durationMessage }).regex(durationPattern, { message: durationMessage }),
    z.literal(0, { error: durationMessage }),
  ],
  { error: durationMessage },
);

export const cpuSchema = z.union([
  z.number().positive(),
  z.string().regex(/^\d+(\.\d+)?m?$/, { message: "expected CPU as cores (1, 0.5) or millicores (500m)" }),
]);
export const memorySchema = z
  .string({ error: "expected memory such as 256Mi or 1Gi" })
  .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$/, { message: "expected memory such as 256Mi or 1Gi" });

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  message: "expected a lowercase DNS label: letters, digits and '-', at most 63 characters",
});

// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** Text that is printed back to people: control characters could fake lines in a terminal. */
const printable = (what: string) =>
  z.string().refine((text) => !controlCharacters.test(text), {
    message: `${what} must not contain control characters (newlines, escapes, tabs)`,
  });

/** A path relative to the service folder that stays inside it. */
const pathInsideService = (what: string) =>
  printable(what)
    .min(1)
    .refine((path) => !posix.isAbsolute(path) && !/^[A-Za-z]:[\\/]/.test(path), {
      message: `${what} must be relative to the service folder, not an absolute path`,
    })
    .refine((path) => !posix.normalize(path.replaceAll("\\", "/")).split("/").includes(".."), {
      message: `${what} must stay inside the service folder: ".." leads out of it`,
    });

/** A URL path: starts with "/", no spaces or control characters. */
const urlPath = z
  .string()
  .startsWith("/", { message: "expected a path starting with /" })
  // eslint-disable-next-line no-control-regex
  .regex(/^\/[^\s\u0000-\u001f\u007f]*$/, {
    message: "expected a URL path without spaces or control characters",
  });

const percentage = (example: string) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?%?$/, { message: `expected a percentage such as "${example}"` })
    .refine((text) => Number(text.replace("%", "")) <= 100, {
      message: "a score percentage is between 0% and 100%",
    });

const criterionSchema = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    try {
      parseCriteria(text);
    } catch (error) {
      if (!(error instanceof CriteriaSyntaxError)) throw error;
      ctx.addIssue({ code: "custom", message: error.message });
    }
  });

const commandSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
/** A run command is started without a shell, so shell syntax in the string form is an error. */
const runCommandSchema = commandSchema
  .superRefine((command, ctx) => {
    const problem = typeof command === "string" ? commandProblem(command) : undefined;
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  })
  .describe(
    "How to start the service, without a shell: a command line split into words, or an argument list. Gets $PORT in its environment.",
  );
const envSchema = z
  .record(
    z.string(),
    z.string().refine((value) => !value.includes("\u0000"), {
      message: "an environment value cannot hold a NUL byte",
    }),
  )
  .superRefine((env, ctx) => {
    for (const name of Object.keys(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `"${name}" is not an environment variable name: use letters, digits and '_', not starting with a digit`,
        });
      }
    }
  });
const httpMethod = z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export const runtimeNames = ["jvm", "go", "node", "python", "dotnet"] as const;

const buildSchema = z.strictObject({
  command: z
    .string()
    .min(1)
    .optional()
    .describe("Shell command that builds the artifact, run in the service folder"),
  artifact: pathInsideService("build.artifact")
    .default(".")
    .describe("The file or folder the build produces, relative to the service folder"),
  image: z.string().min(1).optional(),
  env: envSchema.default({}),
});

const runSchema = z.strictObject({
  command: runCommandSchema.optional(),
  port: z.number().int().min(1).max(65535).default(8080).describe("The port the service listens on ($PORT)"),
  health: urlPath.default("/").describe("HTTP path that answers 2xx once the service is ready"),
  healthTimeout: durationSchema.default("30s"),
  runtime: z
    .enum(runtimeNames)
    .optional()
    .describe(
      "Language runtime, so the CPU and memory limits reach it (e.g. GOMAXPROCS, -XX:ActiveProcessorCount)",
    ),
  image: z.string().min(1).optional(),
  env: envSchema.default({}),
});

const resourcesSchema = z.strictObject({
  cpu: z
    .union([z.literal("auto"), cpuSchema])
    .default("1")
    .describe(
      "CPU limit: cores (1, 0.5) or millicores (500m); auto takes the artifact's rightsizing recommendation",
    ),
  memory: z
    .union([z.literal("auto"), memorySchema])
    .default("512Mi")
    .describe("Memory limit, such as 256Mi or 1Gi; auto takes the artifact's rightsizing recommendation"),
});

const rightsizingSchema = z.strictObject({
  maxSteps: z
    .number()
    .int()
    .min(1)
    .max(40)
    .default(12)
    .describe("Trial sizes in all, the final confirmation included"),
  maxDuration: durationSchema.default("15m").describe("No step starts after this much time"),
  margin: z
    .number()
    .min(0)
    .max(100)
    .default(15)
    .describe("Percent added to each proven minimum for the recommendation"),
});

const loadRequestSchema = z.strictObject({
  name: printable("a request name").min(1).max(200).optional(),
  method: httpMethod.default("GET"),
  path: urlPath,
  headers: z
    .record(
      z
        .string()
        .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: "expected an HTTP header name (a token)" }),
      printable("an HTTP header value"),
    )
    .default({}),
  body: z.string().optional(),
  weight: z.number().positive().default(1),
});

const loadSchema = z.strictObject({
  model: z
    .enum(["open", "closed"])
    .default("open")
    .describe(
      "open: a constant arrival rate (latency counts from the scheduled send time); closed: fixed connections",
    ),
  rate: z.number().positive().default(50).describe("Requests per second (open model)"),
  duration: durationSchema.default("10s"),
  maxDuration: durationSchema
    .optional()
    .describe(
      "How long the test may go on, in further windows of `duration`, while a relative objective against a concurrent baseline is inconclusive; default 3 × duration",
    ),
  warmup: durationSchema.default("1s"),
  connections: z.number().int().positive().default(10),
  workers: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "Threads generating the load (default 1), each with its share of the connections (at most `connections`); raise it only past tens of thousands of requests a second",
    ),
  maxRequests: z.number().int().positive().optional(),
  timeout: durationSchema.default("5s"),
  requests: z
    .array(loadRequestSchema)
    .min(1)
    .default([{ method: "GET", path: "/", headers: {}, weight: 1 }]),
});

const externalLoadSchema = z.strictObject({
  command: commandSchema,
  timeout: durationSchema.default("10m"),
});

const testSchema = z.strictObject({
  load: loadSchema.optional(),
  external: externalLoadSchema.optional(),
});

/** Keptn slo.yaml, spec_version 1.0. Defaults are not filled in here: Keptn treats a
 * missing `comparison` block differently from a block with missing fields. */
const criteriaSchema = z.strictObject({ criteria: z.array(criterionSchema).min(1) });
export const sloObjectiveSchema = z.strictObject({
  sli: printable("an SLI name").min(1).max(300),
  displayName: printable("a display name").optional(),
  pass: z.array(criteriaSchema).optional(),
  warning: z.array(criteriaSchema).optional(),
  weight: z.number().int().min(0).optional(),
  key_sli: z.boolean().optional(),
});
export const sloSchema = z.strictObject({
  spec_version: z.string().optional(),
  filter: z.record(z.string(), z.string()).nullish(),
  comparison: z
    .strictObject({
      compare_with: z.enum(["single_result", "several_results"]).optional(),
      number_of_comparison_results: z.number().int().min(1).optional(),
      include_result_with_score: z.enum(["all", "pass", "pass_or_warn"]).optional(),
      aggregate_function: z.enum(["avg", "p50", "p90", "p95"]).optional(),
    })
    .optional(),
  objectives: z.array(sloObjectiveSchema).nullish(),
  total_score: z
    .strictObject({
      pass: percentage("90%"),
      warning: percentage("75%").optional(),
    })
    .refine(
      (score) =>
        score.warning === undefined ||
        Number(score.warning.replace("%", "")) <= Number(score.pass.replace("%", "")),
      { message: "total_score.warning must not be above total_score.pass", path: ["warning"] },
    )
    .optional(),
});

const prometheusProviderSchema = z.strictObject({
  provider: z.literal("prometheus"),
  url: z.url(),
  queries: z.record(z.string(), z.string().min(1)),
});
const commandProviderSchema = z.strictObject({
  provider: z.literal("command"),
  command: commandSchema,
  timeout: durationSchema.default("60s"),
});
const sliProviderSchema = z.discriminatedUnion("provider", [prometheusProviderSchema, commandProviderSchema]);

export const evidenceNames = ["sbom", "provenance", "vulns", "test-result", "slo-evaluation"] as const;
const severity = z.enum(["none", "low", "medium", "high", "critical"]);
export const requirementSchema = z.union([
  z.enum(evidenceNames),
  z.strictObject({ sbom: z.strictObject({}) }),
  z.strictObject({ provenance: z.strictObject({}) }),
  z.strictObject({ "test-result": z.strictObject({ passed: z.boolean().default(true) }) }),
  z.strictObject({
    vulns: z.strictObject({
      max_severity: severity.default("medium"),
      max_age: durationSchema
        .optional()
        .describe("How old the advisory database's newest advisory may be, such as 7d"),
    }),
  }),
  z.strictObject({
    "slo-evaluation": z.strictObject({
      from_stage: z.string().optional(),
      min_result: z.enum(["pass", "warning"]).default("pass"),
    }),
  }),
]);

const targetSchema = z
  .string()
  .regex(targetNamePattern, { message: targetNameMessage })
  .describe(targetKinds.map((kind) => `'${kind.written}'`).join(" or "));

const approvalMode = z.enum(["automatic", "manual"]);
const stageSchema = z.strictObject({
  name: dnsLabel,
  target: targetSchema.optional(),
  targets: z.array(targetSchema).min(1).optional().describe("Several targets, rolled out in order"),
  strategy: z.enum(["direct", "blue-green", "canary"]).default("direct"),
  canary: z
    .strictObject({
      steps: z.array(z.number().int().min(1).max(100)).min(1).default([10, 50, 100]),
      stepDuration: durationSchema.default("10s"),
      judge: z
        .strictObject({
          metrics: z.array(z.string().min(1)).default(["latency", "error"]),
          confidence: z.number().gt(0).lt(1).default(0.98),
          tolerance: z.number().min(0).default(0.25),
          allowedIncrease: z
            .number()
            .min(1)
            .default(1.1)
            .describe(
              "How much higher the canary's mean latency may be (a ratio) before a significant rise fails it",
            ),
          passScore: z.number().min(0).max(100).default(95),
          marginalScore: z.number().min(0).max(100).default(75),
        })
        .default({
          metrics: ["latency", "error"],
          confidence: 0.98,
          tolerance: 0.25,
          allowedIncrease: 1.1,
          passScore: 95,
          marginalScore: 75,
        }),
    })
    .optional(),
  traffic: z.enum(["replicas", "gateway-api", "istio"]).default("replicas"),
  replicas: z.number().int().min(1).default(1),
  approval: z
    .strictObject({
      pass: approvalMode.default("automatic"),
      warning: approvalMode.default("manual"),
      timeout: durationSchema.default("24h"),
    })
    .default({ pass: "automatic", warning: "manual", timeout: "24h" })
    .describe(
      "Whether a pass or a warning result is released automatically or waits for `waybill approve`; a fail never is",
    ),
  security: z
    .strictObject({
      mtls: z
        .boolean()
        .default(false)
        .describe(
          "Mutual TLS between the stage proxy and each instance: locally through a TLS terminator beside the instance, certificates from the control plane's own CA; on Kubernetes through the mesh",
        ),
      mesh: z
        .enum(["istio", "linkerd"])
        .optional()
        .describe(
          "The mesh that carries mTLS on Kubernetes; default istio with traffic: istio, else linkerd",
        ),
    })
    .default({ mtls: false }),
  rightsize: z
    .boolean()
    .default(false)
    .describe(
      "After the gate passes, find the smallest CPU and memory limits at which every SLO still passes, and record them as the artifact's minimum-environment attestation",
    ),
  supersede: z
    .boolean()
    .default(true)
    .describe(
      'A newer build arriving while an older one waits for approval here rejects the older one ("superseded by <version>"), so only the newest candidate waits',
    ),
  requires: z
    .array(requirementSchema)
    .default([])
    .describe(
      "Evidence the artifact must carry, signed by a trusted key, before it is deployed to this stage",
    ),
  test: z
    .boolean()
    .default(true)
    .describe("Run the service's test block (load test or external tool) in this stage"),
  gate: z
    .boolean()
    .default(true)
    .describe("Evaluate the SLO in this stage; a failed gate rolls the stage back"),
  baseline: z
    .enum(["concurrent", "history"])
    .default("concurrent")
    .describe(
      "What relative criteria compare with: the live release under the same load at the same time (concurrent, when one is live), or earlier results only (history)",
    ),
  testUrl: z
    .union([z.url(), z.record(targetSchema, z.url())])
    .optional()
    .describe(
      "Where Waybill reaches the new version on a Kubernetes target for the load test (an Ingress, a LoadBalancer or a port-forward; for blue-green, the <service>-preview Service); one URL, or one per target",
    ),
  drain: durationSchema.default("2s"),
  timeouts: z.record(z.string(), durationSchema).default({}),
  gitops: z
    .strictObject({
      repo: z
        .string()
        .min(1)
        .describe("A git working copy (relative to this file) or a repository URL, cloned and pushed to"),
      path: z.string().min(1).default("."),
      branch: z.string().min(1).default("main"),
      apply: z.boolean().default(true),
    })
    .optional(),
});

const defaultStages = z
  .array(stageSchema)
  .parse([
    { name: "dev" },
    { name: "staging", strategy: "blue-green" },
    { name: "production", strategy: "blue-green", approval: { pass: "manual" } },
  ]);

export const serviceSpecSchema = z
  .strictObject({
    apiVersion: z.literal("waybill.dev/v1").default("waybill.dev/v1"),
    kind: z.literal("Service").default("Service"),
    metadata: z.strictObject({
      name: dnsLabel.describe("The service name, a lowercase DNS label such as checkout"),
      labels: z.record(z.string(), z.string()).default({}),
    }),
    build: buildSchema.default({ artifact: ".", env: {} }),
    run: runSchema,
    resources: resourcesSchema.default({ cpu: "1", memory: "512Mi" }),
    rightsizing: rightsizingSchema
      .default({ maxSteps: 12, maxDuration: "15m", margin: 15 })
      .describe("Bounds of `waybill rightsize` and of a stage's `rightsize: true`"),
    test: testSchema.default({}),
    sli: z.array(sliProviderSchema).default([]),
    slo: z
      .union([z.string().min(1), sloSchema])
      .optional()
      .describe("Keptn slo.yaml content, or the path of a Keptn slo.yaml relative to this file"),
    stages: z
      .array(stageSchema)
      .min(1)
      .default(defaultStages)
      .describe("The stages in delivery order; default dev, staging, production"),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    // Each missing run field is reported once, for the first stage that needs it.
    const reported = new Set<string>();
    spec.stages.forEach((stage, index) => {
      if (seen.has(stage.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["stages", index, "name"],
          message: `stage name "${stage.name}" is used twice; stage names must be unique`,
        });
      }
      seen.add(stage.name);
      if (stage.target !== undefined && stage.targets !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["stages", index, "targets"],
          message: "give either target or targets, not both",
        });
      }
      const targets = stageTargets(stage);
      const facts = { runCommand: spec.run.command, image: spec.run.image || spec.build.image || undefined };
      for (const kind of new Set(targets.filter((t) => targetNamePattern.test(t)).map(targetKindOf))) {
        const missing = kind.missingFromSpec(facts);
        if (missing === undefined || reported.has(kind.kind)) continue;
        reported.add(kind.kind);
        ctx.addIssue({
          code: "custom",
          path: [missing.path],
          message: `${missing.message}: stage "${stage.name}" deploys to ${kind.described}`,
        });
      }
      const kubeTargets = targets.filter(
        (target) => targetNamePattern.test(target) && targetKindOf(target).kind === "kube",
      );
      const runsLoad = stage.test && (spec.test.load !== undefined || spec.test.external !== undefined);
      const withoutUrl = kubeTargets.filter((target) => testUrlFor(stage, target) === undefined);
      if (runsLoad && withoutUrl.length > 0) {
        ctx.addIssue({
          code: "custom",
          path: ["stages", index, stage.testUrl === undefined ? "name" : "testUrl"],
          message:
            `stage "${stage.name}" runs the load test on ${withoutUrl.join(", ")}, which Waybill cannot reach by itself: ` +
            "give testUrl (an Ingress, LoadBalancer or port-forward URL of the new version), or test: false",
        });
      }
    });
    reportMixedTargets(spec.stages, ctx);
  });

/**
 * One ship carries one artifact through every stage, and its kind follows the target: a
 * folder for the local runtime, an image for Kubernetes. A service mixing them would need
 * two artifacts that nothing proves are the same build.
 */
function reportMixedTargets(stages: z.output<typeof stageSchema>[], ctx: z.RefinementCtx): void {
  const kinds = stages.map((stage) =>
    stageTargets(stage)
      .filter((target) => targetNamePattern.test(target))
      .map((target) => targetKindOf(target).kind),
  );
  const firstLocal = kinds.findIndex((stageKinds) => stageKinds.includes("local"));
  const firstKube = kinds.findIndex((stageKinds) => stageKinds.includes("kube"));
  if (firstLocal === -1 || firstKube === -1) return;
  const later = Math.max(firstLocal, firstKube);
  const localStage = stages[firstLocal]?.name ?? "";
  const kubeStage = stages[firstKube]?.name ?? "";
  ctx.addIssue({
    code: "custom",
    path: ["stages", later, stages[later]?.targets === undefined ? "target" : "targets"],
    message:
      `stage "${kubeStage}" deploys to Kubernetes and stage "${localStage}" to the local target, but one ship carries ` +
      "one artifact through every stage: a folder for local targets, an image for Kubernetes. Use one kind of target " +
      "for all stages of a service",
  });
}

export type ServiceSpec = z.output<typeof serviceSpecSchema>;
export type StageSpec = ServiceSpec["stages"][number];
export type SloSpec = z.output<typeof sloSchema>;
export type LoadSpec = z.output<typeof loadSchema>;
export type Requirement = z.output<typeof requirementSchema>;

export function stageTargets(stage: Pick<StageSpec, "target" | "targets">): string[] {
  return stage.targets ?? [stage.target ?? LOCAL_TARGET];
}

/** True for a URL git clones from (scheme://… or scp-like user@host:path), false for a local path. */
export function isGitUrl(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s@]+@[^/\s:]+:/.test(repo);
}

/** The stage's test URL for one of its targets, if it has one. */
export function testUrlFor(stage: Pick<StageSpec, "testUrl">, target: string): string | undefined {
  return typeof stage.testUrl === "string" ? stage.testUrl : stage.testUrl?.[target];
}
