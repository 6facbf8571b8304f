/**
 * Enforces the stage's `requires:` before anything is deployed: each required predicate must
 * be attested for this exact artifact digest, signed by a key the trust file allows for that
 * predicate, and meet its conditions. Deny unless the evidence proves it is fine.
 */
import {
  checkRequirement,
  predicateTypeOf,
  type CheckedAttestation,
} from "../../evidence/policy/stage-policy.js";
import type { TaskHandler } from "../task.js";

export const verifyEvidenceTask: TaskHandler = {
  name: "verify-evidence",
  order: 20,
  timeoutMs: 120_000,
  appliesTo: (_run, stage) => stage.requires.length > 0,
  async run({ run, stage, store, evidence }) {
    const outcomes = [];
    for (const requirement of stage.requires) {
      const predicateType = predicateTypeOf(requirement);
      const candidates: CheckedAttestation[] = (await store.attestations(run.digest, predicateType)).map(
        (attestation) => ({
          verdict: evidence.verify(attestation.envelope, predicateType, run.digest),
          stage: attestation.stage,
        }),
      );
      outcomes.push(checkRequirement(requirement, candidates, new Date()));
    }
    const denied = outcomes.filter((outcome) => !outcome.satisfied);
    if (denied.length > 0) {
      return {
        kind: "failed",
        reason: `the stage policy denies ${run.digest}: ${denied.map((outcome) => outcome.reason).join("; ")}`,
      };
    }
    return { kind: "succeeded", output: { verified: outcomes.map((outcome) => outcome.requirement) } };
  },
};
