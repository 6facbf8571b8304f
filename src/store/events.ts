/**
 * The event vocabulary. Every state change of a run is one of these, appended to the log as a
 * CloudEvents 1.0 record; run state and the other projections are folds over the log.
 */
import type { RecordedStep } from "../gate/rightsizing.js";
import type { SecurityCost } from "../gate/security-cost.js";
import type {
  DependencyUsage,
  MinimumEnvironmentPredicate,
} from "../evidence/attestation/minimum-environment.js";
import type { PairedJudgement } from "../gate/paired-comparison.js";
import type { ProtectedPolicy } from "../policy/protected-policy.js";

export const EVENT_SOURCE = "/waybill/control-plane";
export const EVENT_TYPE_PREFIX = "dev.waybill.";

export interface CloudEvent<T = Record<string, unknown>> {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string;
  datacontenttype: "application/json";
  /** CloudEvents extension attribute linking the events of one run */
  waybillrun?: string;
  data: T;
}

export interface StoredEvent<T = Record<string, unknown>> extends CloudEvent<T> {
  /** Position in the log; strictly increasing */
  seq: number;
}

export type RunKind = "ship" | "rollback" | "rightsize";
export type RunState = "queued" | "running" | "waiting-approval" | "rolling-back" | "succeeded" | "failed";
export type GateResult = "pass" | "warning" | "fail";

/** What a run is: which artifact, in which stage, started by which ship. */
export interface QueuedRun {
  shipId: string;
  kind: RunKind;
  /** A rightsize run's bounds, where the request set them */
  rightsize?: RightsizeBounds;
  service: string;
  stage: string;
  stageIndex: number;
  digest: string;
  version: string;
}

/** What the runtime was seen to take of its limits, or why it could not be seen */
export type RuntimeLimitsSeen =
  | { runtime: string; expected: Record<string, string>; seen: Record<string, string>; mismatches: string[] }
  | { unobservable: string };

export interface RightsizeBounds {
  maxSteps?: number;
  maxDurationMs?: number;
}

/** Each event type with the shape of its data. */
export interface EventData {
  "service.registered": { name: string; dir: string; stages: string[] };
  "artifact.recorded": {
    service: string;
    digest: string;
    version: string;
    path: string;
    mountPath: string;
    spec: unknown;
  };
  "run.queued": QueuedRun & { runId: string };
  "run.started": Record<string, never>;
  "task.started": { task: string; attempt: number };
  "task.succeeded": { task: string; output?: Record<string, unknown> };
  "task.failed": { task: string; reason: string };
  /** A replica took a run over from one whose lease ran out (store/leases.ts) */
  "task.lease-taken-over": { from: string; by: string; fence: number };
  "run.result": { result: GateResult };
  /** One finished step of a rightsizing experiment (engine/rightsizing-experiment.ts) */
  "rightsize.step": RecordedStep;
  /** The experiment's report, also signed as the artifact's minimum-environment attestation */
  "rightsize.recorded": MinimumEnvironmentPredicate;
  "run.waiting-approval": { result: GateResult; deadline: string };
  "run.approved": { by: string };
  "run.rejected": { by: string; reason: string };
  "run.rolling-back": { reason: string };
  "run.rolled-back": { reason: string };
  "run.finished": { state: "succeeded" | "failed"; reason?: string };
  "release.recorded": {
    service: string;
    stage: string;
    target: string;
    digest: string;
    version: string;
  };
  "test.measured": {
    service: string;
    stage: string;
    digest: string;
    version: string;
    target: string;
    window: { start: string; end: string };
    slis: Record<string, number>;
    /** Request latencies of the new version, downsampled, for significance tests */
    latencySamplesMs: number[];
    tool: string;
    /** The live release, measured beside the new version under the same load in the same window */
    baseline?: ConcurrentBaseline;
    /** Windows of `test.load.duration` that ran: more than one while a relative criterion was inconclusive */
    windows?: number;
    /** Whether the new version's language runtime took its limits (runtime/limits-check) */
    runtimeLimits?: RuntimeLimitsSeen;
    /** Which of the SBOM's packages the new version loaded under the load (evidence/usage) */
    dependencies?: DependencyUsage;
    /** What mutual TLS added, plain and TLS paths to the same version side by side (gate/security-cost) */
    security?: SecurityCost;
  };
  "evaluation.recorded": EvaluationRecordData;
  "attestation.recorded": {
    service: string;
    digest: string;
    predicateType: string;
    /** The stage whose run produced it; null for evidence of the artifact itself */
    stage: string | null;
    /** A DSSE envelope carrying an in-toto statement about `digest` */
    envelope: { payloadType: string; payload: string; signatures: { keyid?: string; sig: string }[] };
  };
  "instance.started": { instanceId: string; pid: number | null; port: number };
  "instance.adopted": { instanceId: string; pid: number | null; port: number };
  "instance.stopped": { instanceId: string };
  "instance.crashed": { instanceId: string; exitCode: number | null; signal: string | null };
  "instance.restarted": { instanceId: string; attempt: number; backoffMs: number };
  "orphan.killed": { instanceId: string; pid: number };
  "instance.tampered": { instanceId: string; reason: string };
  "policy.changed": PolicyChangeData;
}

/** Why a stage's protected policy changed: an admin set it, or a ship set or replaced it. */
export type PolicyChangeReason = "set" | "first ship" | "admin ship";

/** A change of one stage's protected policy; `service` "*" is the default for every service. */
export interface PolicyChangeData {
  service: string;
  stage: string;
  by: string;
  reason: PolicyChangeReason;
  previous: ProtectedPolicy | null;
  policy: ProtectedPolicy;
}

/** A performance signature: what the gate measured and judged for one artifact in one stage. */
export interface EvaluationRecordData {
  service: string;
  stage: string;
  digest: string;
  version: string;
  result: GateResult;
  score: number;
  /** The SLI vector the gate judged */
  values: Record<string, number | null>;
  /** Why a wanted SLI has no value */
  noValueReasons: Record<string, string>;
  /** The evaluation as Keptn reports it: objectives with targets, statuses, compared values */
  evaluation: unknown;
  /** sha256 of the SLO the values were judged against */
  sloDigest: string | null;
  /** The earlier runs whose results formed the comparison baseline, newest first */
  baseline: string[];
  /** What relative criteria were compared with: the live release at the same time, or earlier results */
  baselineKind?: "concurrent" | "history";
  /** The concurrent baseline's relative criteria, decided on both sides' per-request samples */
  paired?: PairedJudgement[];
  window: { start: string; end: string } | null;
  latencySamplesMs: number[];
}

export interface ConcurrentBaseline {
  kind: "concurrent";
  runId: string;
  version: string;
  slis: Record<string, number>;
  /** Downsampled, as the new version's */
  latencySamplesMs: number[];
  /** Relative latency criteria decided on both sides' full samples */
  paired: PairedJudgement[];
}

export type EventType = keyof EventData;

export interface NewEvent<K extends EventType = EventType> {
  type: K;
  subject: string;
  run?: string;
  data: EventData[K];
}

export function newEvent<K extends EventType>(
  type: K,
  subject: string,
  data: EventData[K],
  run?: string,
): NewEvent<K> {
  return run === undefined ? { type, subject, data } : { type, subject, data, run };
}

export function shortType(event: { type: string }): EventType {
  return event.type.slice(EVENT_TYPE_PREFIX.length) as EventType;
}
