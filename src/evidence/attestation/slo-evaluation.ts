/**
 * Waybill's slo-evaluation predicate: the verdict of a quality gate, signed so that a later
 * stage's policy (`slo-evaluation: {from_stage: staging}`) can require it. Pure.
 */
import { UserError } from "../../errors.js";
import { isoTime } from "./provenance.js";
import { parseSha256Digest } from "./statement.js";

export type SloVerdict = "pass" | "warning" | "fail";

export interface SloObjectiveOutcome {
  sli: string;
  status: SloVerdict | "info";
  /** null when the SLI could not be measured */
  value: number | null;
  score: number;
  weight: number;
  keySli: boolean;
  /** The criteria as written in slo.yaml, e.g. ["<600", "<=+10%"] */
  passCriteria: string[];
  warningCriteria: string[];
}

export interface SloEvaluationInput {
  /** The stage the evaluation ran in, which stage policies refer to */
  stage: string;
  result: SloVerdict;
  /** 0–100 */
  score: number;
  objectives: SloObjectiveOutcome[];
  /** `sha256:<hex>` of the slo.yaml judged against */
  sloDigest: string;
  /** The earlier evaluations relative criteria compared with; null when there were none */
  baseline: { evaluationIds: string[]; aggregateFunction: string } | null;
  window: { start: Date | string; end: Date | string };
}

export interface SloEvaluationPredicate {
  stage: string;
  result: SloVerdict;
  score: number;
  objectives: SloObjectiveOutcome[];
  sloDigest: string;
  baseline: { evaluationIds: string[]; aggregateFunction: string } | null;
  window: { start: string; end: string };
}

export function buildSloEvaluationPredicate(input: SloEvaluationInput): SloEvaluationPredicate {
  if (!Number.isFinite(input.score) || input.score < 0 || input.score > 100) {
    throw new UserError(`slo-evaluation: score must be between 0 and 100, not ${input.score}`);
  }
  const start = isoTime(input.window.start, "window.start");
  const end = isoTime(input.window.end, "window.end");
  if (end < start) throw new UserError("slo-evaluation: the window ends before it starts");
  return {
    stage: input.stage,
    result: input.result,
    score: input.score,
    objectives: input.objectives,
    sloDigest: `sha256:${parseSha256Digest(input.sloDigest)}`,
    baseline: input.baseline,
    window: { start, end },
  };
}
