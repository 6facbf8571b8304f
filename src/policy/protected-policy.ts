/**
 * A stage's protected policy (pure): the parts of a stage that belong to the platform, not to
 * whoever ships. A ship may tighten them freely; weakening one is an admin's decision. At run
 * time the policy is a floor under the shipped stage, so a stage never runs looser than the
 * platform allows, whatever spec an artifact was recorded with.
 */
import { stageTargets, type Requirement, type StageSpec } from "../spec/schema.js";
import { parseDuration } from "../spec/units.js";

export type ApprovalMode = "automatic" | "manual";

export interface ProtectedPolicy {
  approval: { pass: ApprovalMode; warning: ApprovalMode };
  requires: Requirement[];
  gate: boolean;
  /** Where the stage deploys, in order; absent in a default for every service, which leaves targets to each */
  targets?: string[];
}

/** One way a stage is looser than its policy; `field` is a path in waybill.yaml. */
export interface Weakening {
  field: string;
  policy: string;
  shipped: string;
}

type ProtectedStage = Pick<StageSpec, "approval" | "requires" | "gate" | "target" | "targets">;

export function policyOfStage(stage: ProtectedStage): ProtectedPolicy {
  return {
    approval: { pass: stage.approval.pass, warning: stage.approval.warning },
    requires: structuredClone(stage.requires),
    gate: stage.gate,
    targets: stageTargets(stage),
  };
}

/** What `stage` gives up of `policy`; empty when it is as strict or stricter. */
export function weakenings(policy: ProtectedPolicy, stage: ProtectedStage, stagePath: string): Weakening[] {
  const shipped = policyOfStage(stage);
  const found: Weakening[] = [];
  for (const result of ["pass", "warning"] as const) {
    if (policy.approval[result] === "manual" && shipped.approval[result] === "automatic") {
      found.push({ field: `${stagePath}.approval.${result}`, policy: "manual", shipped: "automatic" });
    }
  }
  for (const required of policy.requires) {
    if (!shipped.requires.some((offered) => covers(offered, required))) {
      found.push({
        field: `${stagePath}.requires`,
        policy: describeRequirement(required),
        shipped: shipped.requires.map(describeRequirement).join(", ") || "nothing",
      });
    }
  }
  if (policy.gate && !shipped.gate) {
    found.push({ field: `${stagePath}.gate`, policy: "true", shipped: "false" });
  }
  if (policy.targets !== undefined && policy.targets.join(",") !== (shipped.targets ?? []).join(",")) {
    found.push({
      field: `${stagePath}.${stage.targets === undefined ? "target" : "targets"}`,
      policy: policy.targets.join(", "),
      shipped: (shipped.targets ?? []).join(", "),
    });
  }
  return found;
}

/**
 * The stage as it may run: the shipped stage with the policy as its floor. Requirements the
 * stage already covers are not repeated; the targets are the policy's.
 */
export function enforcePolicy<S extends ProtectedStage>(stage: S, policy: ProtectedPolicy | undefined): S {
  if (policy === undefined) return stage;
  const stricter = (a: ApprovalMode, b: ApprovalMode): ApprovalMode =>
    a === "manual" || b === "manual" ? "manual" : "automatic";
  const missing = policy.requires.filter(
    (required) => !stage.requires.some((offered) => covers(offered, required)),
  );
  return {
    ...stage,
    approval: {
      ...stage.approval,
      pass: stricter(stage.approval.pass, policy.approval.pass),
      warning: stricter(stage.approval.warning, policy.approval.warning),
    },
    requires: [...stage.requires, ...structuredClone(missing)],
    gate: stage.gate || policy.gate,
    ...(policy.targets === undefined ? {} : { target: undefined, targets: [...policy.targets] }),
  };
}

const SEVERITIES = ["none", "low", "medium", "high", "critical"] as const;

interface NormalisedRequirement {
  name: string;
  maxSeverity?: (typeof SEVERITIES)[number];
  /** How old the advisory database may be; undefined is any age */
  maxAgeMs?: number | undefined;
  passed?: boolean;
  fromStage?: string | undefined;
  minResult?: "pass" | "warning";
}

/** A bare name means what the evidence check makes of it (see evidence/policy/stage-policy.ts). */
function normalise(requirement: Requirement): NormalisedRequirement {
  if (typeof requirement === "string") {
    switch (requirement) {
      case "vulns":
        return { name: "vulns", maxSeverity: "medium" };
      case "test-result":
        return { name: "test-result", passed: true };
      case "slo-evaluation":
        return { name: "slo-evaluation", fromStage: undefined, minResult: "pass" };
      default:
        return { name: requirement };
    }
  }
  if ("vulns" in requirement) {
    const { max_severity: maxSeverity, max_age: maxAge } = requirement.vulns;
    return { name: "vulns", maxSeverity, maxAgeMs: maxAge === undefined ? undefined : parseDuration(maxAge) };
  }
  if ("test-result" in requirement) return { name: "test-result", passed: requirement["test-result"].passed };
  if ("slo-evaluation" in requirement) {
    const { from_stage: fromStage, min_result: minResult } = requirement["slo-evaluation"];
    return { name: "slo-evaluation", fromStage, minResult };
  }
  return { name: Object.keys(requirement)[0] ?? "" };
}

/** Does requiring `offered` prove at least what `required` asks? */
export function covers(offered: Requirement, required: Requirement): boolean {
  const a = normalise(offered);
  const b = normalise(required);
  if (a.name !== b.name) return false;
  switch (a.name) {
    case "vulns":
      return (
        SEVERITIES.indexOf(a.maxSeverity ?? "medium") <= SEVERITIES.indexOf(b.maxSeverity ?? "medium") &&
        (b.maxAgeMs === undefined || (a.maxAgeMs !== undefined && a.maxAgeMs <= b.maxAgeMs))
      );
    case "test-result":
      return a.passed === true || b.passed === false;
    case "slo-evaluation":
      return (
        (b.fromStage === undefined || a.fromStage === b.fromStage) &&
        (a.minResult === "pass" || b.minResult === "warning")
      );
    default:
      return true;
  }
}

export function describeRequirement(requirement: Requirement): string {
  const n = normalise(requirement);
  switch (n.name) {
    case "vulns":
      return `vulns (max_severity ${n.maxSeverity ?? "medium"}${n.maxAgeMs === undefined ? "" : `, max_age ${Math.round(n.maxAgeMs / 3_600_000)}h`})`;
    case "test-result":
      return n.passed === true ? "test-result (passed)" : "test-result";
    case "slo-evaluation":
      return `slo-evaluation (${n.minResult ?? "pass"}${n.fromStage === undefined ? "" : ` from ${n.fromStage}`})`;
    default:
      return n.name;
  }
}

export function describeWeakening(weakening: Weakening): string {
  return `${weakening.field}: the stage policy requires ${weakening.policy}, this waybill.yaml has ${weakening.shipped}`;
}
