/**
 * "The runtime sees its limits" in the gate: where the test measured whether the new version's
 * language runtime took its CPU and memory limits and it did not, an objective the SLO need not
 * name says so in the gate's table. A mismatch is a warning, never a failure: the service may still meet its SLOs, but it is tuned
 * for a machine it does not have.
 */
import type { Evaluation } from "../gate/slo-evaluation.js";
import type { SloSpec } from "../spec/schema.js";
import type { RuntimeLimitsSeen } from "../store/events.js";

export const RUNTIME_LIMITS_SLI = "runtime_limits_mismatch";

/** The SLO with the runtime's objective added, where the test saw a mismatch and the SLO has none of its own. */
export function withRuntimeLimitsObjective(
  slo: SloSpec | undefined,
  seen: RuntimeLimitsSeen | undefined,
): SloSpec | undefined {
  // Only a mismatch is judged: a runtime that took its limits leaves the SLO's score as it was.
  if (slo === undefined || seen === undefined || !("mismatches" in seen) || seen.mismatches.length === 0) {
    return slo;
  }
  const objectives = slo.objectives ?? [];
  if (objectives.some((objective) => objective.sli === RUNTIME_LIMITS_SLI)) return slo;
  return {
    ...slo,
    objectives: [
      ...objectives,
      {
        sli: RUNTIME_LIMITS_SLI,
        displayName: "runtime sees its limits",
        pass: [{ criteria: ["<=0"] }],
        warning: [{ criteria: [">=0"] }],
      },
    ],
  };
}

/** Says on the runtime's objective why it is a warning: each mismatch, as the check worded it. */
export function explainRuntimeLimits(
  evaluation: Evaluation,
  seen: RuntimeLimitsSeen | undefined,
): Evaluation {
  if (seen === undefined || !("mismatches" in seen) || seen.mismatches.length === 0) return evaluation;
  return {
    ...evaluation,
    objectives: evaluation.objectives.map((objective) =>
      objective.sli === RUNTIME_LIMITS_SLI && objective.status !== "pass"
        ? { ...objective, inconclusive: seen.mismatches.join("; ") }
        : objective,
    ),
  };
}
