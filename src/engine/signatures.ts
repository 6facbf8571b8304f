/** Performance signatures as the API shows them: one stage's, and what moved between two builds. */
import { NotFoundError } from "../errors.js";
import { CriteriaSyntaxError, parseCriteria } from "../gate/criteria.js";
import { diffSignatures, type SignatureDiff } from "../gate/signature-diff.js";
import type { CriterionTarget, Evaluation, ObjectiveResult } from "../gate/slo-evaluation.js";
import type { EvaluationRecord, Store } from "../store/store.js";
import { serviceFor } from "./run-views.js";

export async function signaturesOf(store: Store, query: { service?: string; stage?: string }) {
  const service = await serviceFor(store, query.service);
  const records = await store.evaluations(service, query.stage);
  return records.map(({ latencySamplesMs: _samples, evaluation: _evaluation, ...signature }) => signature);
}

export async function compareBuilds(
  store: Store,
  query: { service?: string; stage?: string; a: string; b: string },
): Promise<SignatureDiff & { service: string; stage: string }> {
  const service = await serviceFor(store, query.service);
  const records = await store.evaluations(service, query.stage);
  const stage = query.stage ?? sharedStage(records, query.a, query.b);
  const a = findSignature(records, query.a, stage);
  const b = findSignature(records, query.b, a.stage);
  return {
    service,
    stage: a.stage,
    ...diffSignatures(
      { label: `${a.version} (${a.runId})`, values: a.values, latencySamplesMs: a.latencySamplesMs },
      { label: `${b.version} (${b.runId})`, values: b.values, latencySamplesMs: b.latencySamplesMs },
    ),
  };
}

/** A signature is named by its run id, its version, its digest, or a digest prefix. */
function signatureMatches(record: EvaluationRecord, ref: string): boolean {
  return (
    record.runId === ref ||
    record.version === ref ||
    record.digest === ref ||
    record.digest.startsWith(`sha256:${ref}`)
  );
}

/** The newest stage where both builds were evaluated, so `signature diff A B` needs no --stage. */
function sharedStage(records: EvaluationRecord[], a: string, b: string): string | undefined {
  const stagesOfA = new Set(
    records.filter((record) => signatureMatches(record, a)).map((record) => record.stage),
  );
  return records.find((record) => signatureMatches(record, b) && stagesOfA.has(record.stage))?.stage;
}

/** Newest first, so a version shipped twice names its latest signature */
function findSignature(
  records: EvaluationRecord[],
  ref: string,
  stage: string | undefined,
): EvaluationRecord {
  const found = records.find(
    (record) => (stage === undefined || record.stage === stage) && signatureMatches(record, ref),
  );
  if (found === undefined) {
    throw new NotFoundError(`no performance signature matches "${ref}"${stage ? ` in stage ${stage}` : ""}`);
  }
  return found;
}

/** One SLI of one build as the gate judged it, with its thresholds as numbers (a heatmap cell) */
export interface HeatmapCell {
  status: ObjectiveResult["status"];
  value: number | null;
  baseline: number | null;
  score: number | null;
  passCriteria: string[];
  warningCriteria: string[];
  passThreshold: number | null;
  warningThreshold: number | null;
  better: "lower" | "higher" | null;
}

export interface SignatureHeatmap {
  service: string;
  stage: string;
  total: number;
  slis: { sli: string; displayName: string; keySli: boolean }[];
  builds: {
    runId: string;
    version: string;
    digest: string;
    result: EvaluationRecord["result"];
    score: number;
    recordedAt: string;
    noValueReasons: Record<string, string>;
    cells: Record<string, HeatmapCell>;
  }[];
  next: string | null;
}

/**
 * A stage's SLIs x builds, newest first, a page at a time: each cell the objective as the gate
 * judged it, with its thresholds as numbers, so the dashboard draws the heatmap and the trends
 * from one answer. The page starts after `before` (a run id from the previous page's `next`).
 */
export async function signatureHeatmap(
  store: Store,
  query: { service?: string; stage: string; limit: number; before?: string },
): Promise<SignatureHeatmap> {
  const service = await serviceFor(store, query.service);
  const records = await store.evaluations(service, query.stage);
  if (records.length === 0 && !(await stageExists(store, service, query.stage))) {
    throw new NotFoundError(`service ${service} has no stage named "${query.stage}"`);
  }
  let start = 0;
  if (query.before !== undefined) {
    const index = records.findIndex((record) => record.runId === query.before);
    if (index < 0) {
      throw new NotFoundError(`no performance signature of run "${query.before}" in stage ${query.stage}`);
    }
    start = index + 1;
  }
  const page = records.slice(start, start + query.limit);
  const builds = page.map((record) => ({
    runId: record.runId,
    version: record.version,
    digest: record.digest,
    result: record.result,
    score: record.score,
    recordedAt: record.recordedAt,
    noValueReasons: record.noValueReasons,
    cells: Object.fromEntries(objectivesOf(record).map((objective) => [objective.sli, cellOf(objective)])),
  }));
  const slis = new Map<string, { sli: string; displayName: string; keySli: boolean }>();
  for (const record of page) {
    for (const objective of objectivesOf(record)) {
      if (!slis.has(objective.sli)) {
        slis.set(objective.sli, {
          sli: objective.sli,
          displayName: objective.displayName || objective.sli,
          keySli: objective.keySli,
        });
      }
    }
  }
  const last = page.at(-1);
  return {
    service,
    stage: query.stage,
    total: records.length,
    slis: [...slis.values()].sort((x, y) => Number(y.keySli) - Number(x.keySli)),
    builds,
    next: last !== undefined && start + page.length < records.length ? last.runId : null,
  };
}

async function stageExists(store: Store, service: string, stage: string): Promise<boolean> {
  const record = await store.getService(service);
  return record?.stages.includes(stage) ?? false;
}

/** The store keeps the evaluation the gate produced; a record without objectives judged none. */
function objectivesOf(record: EvaluationRecord): ObjectiveResult[] {
  const objectives = (record.evaluation as Partial<Evaluation> | null)?.objectives;
  return Array.isArray(objectives) ? objectives : [];
}

function cellOf(objective: ObjectiveResult): HeatmapCell {
  const baseline = finite(objective.value.comparedValue);
  const better = directionOf([...objective.passTargets, ...objective.warningTargets]);
  return {
    status: objective.status,
    value: finite(objective.value.value),
    baseline,
    score: finite(objective.score),
    passCriteria: objective.passTargets.map((target) => target.criteria),
    warningCriteria: objective.warningTargets.map((target) => target.criteria),
    passThreshold: strictest(objective.passTargets, better, baseline !== null),
    warningThreshold: strictest(objective.warningTargets, better, baseline !== null),
    better,
  };
}

function directionOf(targets: CriterionTarget[]): "lower" | "higher" | null {
  const first = targets[0]?.criteria.trim();
  if (first === undefined) return null;
  return first.startsWith(">") ? "higher" : "lower";
}

/** A relative criterion's target means nothing without a baseline (the gate gives it 0 then). */
function isRelative(criteria: string): boolean {
  try {
    return parseCriteria(criteria).kind === "relative";
  } catch (error) {
    if (error instanceof CriteriaSyntaxError) return false;
    throw error;
  }
}

/** Every criterion of a list must hold, so the band ends at the tightest of their targets. */
function strictest(
  targets: CriterionTarget[],
  better: "lower" | "higher" | null,
  hasBaseline: boolean,
): number | null {
  const values = targets
    .filter((target) => hasBaseline || !isRelative(target.criteria))
    .map((target) => target.targetValue)
    .filter(Number.isFinite);
  if (values.length === 0 || better === null) return null;
  return better === "lower" ? Math.min(...values) : Math.max(...values);
}

function finite(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}
