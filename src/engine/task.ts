/**
 * The task interface. A run is the registered tasks in `order`; a later feature adds a task
 * (test, evaluate, verify-evidence) by registering a handler, with no change to the engine.
 * Handlers must be idempotent: after a crash the engine runs the interrupted task again.
 */
import type { EvidenceService } from "../evidence/evidence-service.js";
import type { ServiceSpec, StageSpec } from "../spec/schema.js";
import type { GateResult, NewEvent, StoredEvent } from "../store/events.js";
import type { ArtifactRecord, ReleaseRecord, RunRecord, Store } from "../store/store.js";
import type { Target } from "../targets/target.js";

export interface TaskContext {
  run: RunRecord;
  spec: ServiceSpec;
  stage: StageSpec;
  artifact: ArtifactRecord;
  /** The run's events so far, oldest first */
  history: StoredEvent[];
  targets: Target[];
  /** What was live on each target before this run, by target name */
  previous: Map<string, ReleaseRecord>;
  store: Store;
  /** Signs attestations with the control plane's key and checks them against the trust file */
  evidence: EvidenceService;
  signal: AbortSignal;
  /** Appends an event now, outside the task's final commit (progress, side effects) */
  emit(event: NewEvent): Promise<void>;
}

export type TaskOutcome =
  | { kind: "succeeded"; output?: Record<string, unknown>; events?: NewEvent[] }
  | { kind: "failed"; reason: string; events?: NewEvent[] }
  | { kind: "wait-for-approval"; result: GateResult };

export interface TaskHandler {
  name: string;
  /** Position in the run; built-ins use multiples of 10 */
  order: number;
  timeoutMs: number;
  appliesTo?(run: RunRecord, stage: StageSpec): boolean;
  run(context: TaskContext): Promise<TaskOutcome>;
}

export class TaskRegistry {
  private readonly handlers: TaskHandler[] = [];

  register(handler: TaskHandler): this {
    if (this.handlers.some((h) => h.name === handler.name)) {
      throw new Error(`a task named "${handler.name}" is already registered`);
    }
    this.handlers.push(handler);
    this.handlers.sort((a, b) => a.order - b.order);
    return this;
  }

  tasksFor(run: RunRecord, stage: StageSpec): TaskHandler[] {
    return this.handlers.filter((handler) => handler.appliesTo?.(run, stage) ?? true);
  }
}
