import { newEvent, type NewEvent } from "../store/events.js";
import type { TaskContext } from "./task.js";

/** Signs a predicate about the run's artifact and returns the event that records it. */
export function attestationEvent(context: TaskContext, predicateType: string, predicate: unknown): NewEvent {
  const { run } = context;
  const envelope = context.evidence.sign(predicateType, predicate, { name: run.service, digest: run.digest });
  return newEvent(
    "attestation.recorded",
    `artifacts/${run.digest}/attestations`,
    { service: run.service, digest: run.digest, predicateType, stage: run.stage, envelope },
    run.id,
  );
}
