/** Performance signatures as the API shows them: one stage's, and what moved between two builds. */
import { NotFoundError } from "../errors.js";
import { diffSignatures, type SignatureDiff } from "../gate/signature-diff.js";
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
