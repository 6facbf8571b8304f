/**
 * The task interface. A run is the registered tasks in `order`; a later feature adds a task
 * (test, evaluate, verify-evidence) by registering a handler, with no change to the engine.
 * Handlers must be idempotent: after a crash the engine runs the interrupted task again.
 */
import type { EvidenceService } from "../evidence/evidence-service.js";
import { stageTargets, type ServiceSpec, type StageSpec } from "../spec/schema.js";
import type { GateResult, NewEvent, StoredEvent } from "../store/events.js";
import type { ArtifactRecord, ReleaseRecord, RunRecord, Store } from "../store/store.js";
import type { Target } from "../targets/target.js";
import type { RecordedRecommendation } from "../spec/resources.js";

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
  /** The artifact's recorded rightsizing recommendation, where `resources` says `auto` */
  recommendation: RecordedRecommendation | null;
  store: Store;
  /** Signs attestations with the control plane's key and checks them against the trust file */
  evidence: EvidenceService;
  signal: AbortSignal;
  /** Appends an event now, outside the task's final commit (progress, side effects) */
  emit(event: NewEvent): Promise<void>;
  /**
   * Says where a long task stands (a load test's requests, p95 and errors), for people watching;
   * kept in memory only, never in the log, and cleared when the task ends.
   */
  progress(text: string): void;
}

export type TaskOutcome =
  | { kind: "succeeded"; output?: Record<string, unknown>; events?: NewEvent[] }
  | { kind: "failed"; reason: string; events?: NewEvent[] }
  | { kind: "wait-for-approval"; result: GateResult };

export interface TaskHandler {
  name: string;
  /** Position in the run; built-ins use multiples of 10 */
  order: number;
  /**
   * Runs once for each target of the stage, in the stage's order: a stage of several clusters
   * rolls out to one, gates it, and only then goes on to the next.
   */
  perTarget?: boolean;
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

  /**
   * The run's tasks in order. With several targets, the per-target tasks (deploy … gate) repeat
   * for each target in turn, named `<task> <target>`; with one target every name stays plain.
   */
  tasksFor(run: RunRecord, stage: StageSpec): PlannedTask[] {
    const applicable = this.handlers.filter((handler) => handler.appliesTo?.(run, stage) ?? true);
    const targets = stageTargets(stage);
    const perTarget = applicable.filter((handler) => handler.perTarget === true);
    const firstPerTarget = perTarget[0];
    if (targets.length < 2 || firstPerTarget === undefined) {
      return applicable.map((handler) => ({ name: handler.name, handler }));
    }
    const plain = (handler: TaskHandler): PlannedTask => ({ name: handler.name, handler });
    const shared = applicable.filter((handler) => handler.perTarget !== true);
    return [
      ...shared.filter((handler) => handler.order < firstPerTarget.order).map(plain),
      ...targets.flatMap((target) =>
        perTarget.map((handler) => ({ name: `${handler.name} ${target}`, handler, target })),
      ),
      ...shared.filter((handler) => handler.order >= firstPerTarget.order).map(plain),
    ];
  }
}

export interface PlannedTask {
  /** The name the run's events carry */
  name: string;
  handler: TaskHandler;
  /** The one target a per-target task works on */
  target?: string;
}
