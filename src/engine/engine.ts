/**
 * The engine runs runs as event-sourced state machines. Every step is an event appended to
 * the store; the next step is decided from the log alone, so after a crash `start()` picks
 * every unfinished run up where its log ends. A task that had started but not finished runs
 * again (handlers are idempotent); a task whose completion was committed never runs again,
 * and a release is committed together with its task's completion, so it happens once.
 *
 * One run at a time per (service, stage); other runs queue FIFO.
 */
import { randomUUID } from "node:crypto";
import { errorMessage } from "../errors.js";
import type { EvidenceService } from "../evidence/evidence-service.js";
import { parseDuration } from "../spec/units.js";
import { serviceSpecSchema, stageTargets, type ServiceSpec, type StageSpec } from "../spec/schema.js";
import { newEvent, type NewEvent, type QueuedRun } from "../store/events.js";
import type { ArtifactRecord, ReleaseRecord, RunRecord, Store } from "../store/store.js";
import type { Target, TargetResolver } from "../targets/target.js";
import { enforcePolicy } from "../policy/protected-policy.js";
import { StagePolicies } from "./policies.js";
import { foldRunProgress } from "./run-progress.js";
import { usesAuto } from "../spec/resources.js";
import { recordedRecommendation } from "../evidence/attestation/recorded-recommendation.js";
import type { PlannedTask, TaskContext, TaskHandler, TaskOutcome, TaskRegistry } from "./task.js";

const ACTIVE_STATES = ["running", "waiting-approval", "rolling-back"] as const;

export interface EngineOptions {
  store: Store;
  evidence: EvidenceService;
  tasks: TaskRegistry;
  targets: TargetResolver;
  log?: (line: string) => void;
}

export class Engine {
  private readonly executing = new Map<string, Promise<void>>();
  private readonly approvalTimers = new Map<string, NodeJS.Timeout>();
  private readonly live = new Map<string, string>();
  private readonly abortController = new AbortController();
  private scheduling: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly policies: StagePolicies;

  constructor(private readonly options: EngineOptions) {
    this.policies = new StagePolicies(options.store);
  }

  private get store(): Store {
    return this.options.store;
  }

  /** Resumes every unfinished run. */
  async start(): Promise<void> {
    await this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abortController.abort();
    for (const timer of this.approvalTimers.values()) clearTimeout(timer);
    await Promise.allSettled([...this.executing.values()]);
  }

  async enqueue(request: Omit<QueuedRun, "stageIndex">): Promise<RunRecord> {
    const spec = await this.specFor(request.service, request.digest);
    const stageIndex = spec.stages.findIndex((stage) => stage.name === request.stage);
    const runId = newRunId();
    await this.store.append([queuedEvent(runId, { ...request, stageIndex })]);
    await this.schedule();
    const run = await this.store.getRun(runId);
    if (run === undefined) throw new Error(`run ${runId} vanished after it was queued`);
    return run;
  }

  async approve(runId: string, by: string): Promise<void> {
    await this.decide(runId, newEvent("run.approved", `runs/${runId}`, { by }, runId));
  }

  async reject(runId: string, by: string, reason: string): Promise<void> {
    await this.decide(runId, newEvent("run.rejected", `runs/${runId}`, { by, reason }, runId));
  }

  private async decide(runId: string, decision: NewEvent): Promise<void> {
    this.clearApprovalTimer(runId);
    await this.store.append([decision]);
    await this.schedule();
  }

  /** Starts whatever may run now. Serialised, so no run is started twice. */
  schedule(): Promise<void> {
    this.scheduling = this.scheduling.then(
      () => this.scheduleNow(),
      () => this.scheduleNow(),
    );
    return this.scheduling;
  }

  private async scheduleNow(): Promise<void> {
    if (this.stopped) return;
    const open = await this.store.listRuns({ states: ["queued", ...ACTIVE_STATES] });
    const byStage = new Map<string, RunRecord[]>();
    for (const run of open) {
      const key = `${run.service}\u0000${run.stage}`;
      byStage.set(key, [...(byStage.get(key) ?? []), run]);
    }
    for (const runs of byStage.values()) {
      const active = runs.find((run) => run.state !== "queued");
      const next = active ?? runs[0];
      if (next === undefined) continue;
      if (next.state === "waiting-approval") {
        const newest = runs.filter((run) => run.state === "queued").at(-1);
        if (newest !== undefined && (await this.supersedes(newest))) {
          this.clearApprovalTimer(next.id);
          const reason = `superseded by ${newest.version}`;
          await this.store.append([
            newEvent("run.rejected", `runs/${next.id}`, { by: "waybill", reason }, next.id),
          ]);
          // Drives the rejected run to its rollback; when it ends, the newer run is scheduled.
          this.execute(next.id);
          continue;
        }
        await this.armApprovalTimer(next);
        continue;
      }
      this.execute(next.id);
    }
  }

  /**
   * Whether a newer ship replaces a run of its stage that waits for approval (`supersede`, on by
   * default): only the newest candidate waits, as in Kargo and Cloud Deploy.
   */
  private async supersedes(newer: RunRecord): Promise<boolean> {
    if (newer.kind !== "ship") return false;
    try {
      return (await this.contextFor(newer)).stage.supersede;
    } catch {
      return false;
    }
  }

  private execute(runId: string): void {
    if (this.executing.has(runId)) return;
    const execution = this.drive(runId)
      .catch((error: unknown) => this.log(`run ${runId}: engine error: ${errorMessage(error)}`))
      .finally(() => {
        this.executing.delete(runId);
        void this.schedule();
      });
    this.executing.set(runId, execution);
  }

  /** Moves one run forward until it finishes or waits for a person. */
  private async drive(runId: string): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const run = await this.store.getRun(runId);
      if (run === undefined) return;
      if (run.state === "succeeded" || run.state === "failed" || run.state === "waiting-approval") return;
      if (run.state === "queued") {
        await this.store.append([newEvent("run.started", `runs/${run.id}`, {}, run.id)]);
        continue;
      }
      const context = await this.contextFor(run);
      if (run.state === "rolling-back") {
        await this.rollBack(run, context);
        return;
      }
      const progress = foldRunProgress(context.history);
      const task = this.options.tasks
        .tasksFor(run, context.stage)
        .find((planned) => !progress.succeeded.has(planned.name));
      if (task === undefined) {
        await this.finish(run, context.spec);
        return;
      }
      const attempt = (progress.attempts.get(task.name) ?? 0) + 1;
      await this.store.append([
        newEvent("task.started", `runs/${run.id}`, { task: task.name, attempt }, run.id),
      ]);
      const targets =
        task.target === undefined ? context.targets : [this.options.targets.resolve(task.target)];
      const outcome = await this.runTask(task, { ...context, targets });
      await this.record(run, task, outcome);
    }
  }

  private async runTask(task: PlannedTask, context: TaskContext): Promise<TaskOutcome> {
    const timeoutMs = stageTimeout(context.stage, task.handler);
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.abortController.signal.addEventListener("abort", onStop);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<TaskOutcome>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ kind: "failed", reason: `task ${task.name} timed out after ${formatMs(timeoutMs)}` });
      }, timeoutMs);
    });
    try {
      return await Promise.race([
        task.handler
          .run({ ...context, signal: controller.signal })
          .catch((error: unknown): TaskOutcome => ({ kind: "failed", reason: errorMessage(error) })),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
      this.abortController.signal.removeEventListener("abort", onStop);
      this.live.delete(context.run.id);
    }
  }

  /** Where the running task of a run stands, as it last said (see TaskContext.progress) */
  liveProgress(runId: string): string | undefined {
    return this.live.get(runId);
  }

  private async record(run: RunRecord, task: PlannedTask, outcome: TaskOutcome): Promise<void> {
    const subject = `runs/${run.id}`;
    if (this.stopped) return;
    switch (outcome.kind) {
      case "succeeded":
        await this.store.append([
          ...(outcome.events ?? []),
          newEvent(
            "task.succeeded",
            subject,
            outcome.output === undefined ? { task: task.name } : { task: task.name, output: outcome.output },
            run.id,
          ),
        ]);
        return;
      case "failed":
        await this.store.append([
          ...(outcome.events ?? []),
          newEvent("task.failed", subject, { task: task.name, reason: outcome.reason }, run.id),
          newEvent("run.rolling-back", subject, { reason: `${task.name}: ${outcome.reason}` }, run.id),
        ]);
        return;
      case "wait-for-approval": {
        const stage = (await this.specFor(run.service, run.digest)).stages[run.stageIndex];
        const timeoutMs = parseDuration(stage?.approval.timeout ?? "24h");
        const deadline = new Date(Date.now() + timeoutMs).toISOString();
        await this.store.append([
          newEvent("run.waiting-approval", subject, { result: outcome.result, deadline }, run.id),
        ]);
        const waiting = await this.store.getRun(run.id);
        if (waiting) await this.armApprovalTimer(waiting);
        return;
      }
    }
  }

  private async rollBack(run: RunRecord, context: TaskContext): Promise<void> {
    const reason = run.reason ?? "the run failed";
    const subject = `runs/${run.id}`;
    const failures: string[] = [];
    for (const target of [...touchedTargets(context)].reverse()) {
      try {
        await target.rollback({ ...context, previous: context.previous.get(target.name) });
      } catch (error) {
        failures.push(`${target.name}: ${errorMessage(error)}`);
      }
    }
    const finalReason =
      failures.length === 0 ? reason : `${reason}; rollback failed on ${failures.join("; ")}`;
    await this.store.append([
      newEvent("run.rolled-back", subject, { reason: finalReason }, run.id),
      newEvent("run.finished", subject, { state: "failed", reason: finalReason }, run.id),
    ]);
  }

  private async finish(run: RunRecord, spec: ServiceSpec): Promise<void> {
    const events: NewEvent[] = [newEvent("run.finished", `runs/${run.id}`, { state: "succeeded" }, run.id)];
    const nextStage = spec.stages[run.stageIndex + 1];
    if (run.kind === "ship" && nextStage !== undefined) {
      events.push(
        queuedEvent(newRunId(), {
          shipId: run.shipId,
          kind: "ship",
          service: run.service,
          stage: nextStage.name,
          stageIndex: run.stageIndex + 1,
          digest: run.digest,
          version: run.version,
        }),
      );
    }
    await this.store.append(events);
  }

  private async armApprovalTimer(run: RunRecord): Promise<void> {
    if (this.approvalTimers.has(run.id) || this.stopped) return;
    const progress = foldRunProgress(await this.store.events({ run: run.id }));
    if (progress.approvalDeadline === null) return;
    const delay = Math.max(0, Date.parse(progress.approvalDeadline) - Date.now());
    const timer = setTimeout(
      () => {
        this.approvalTimers.delete(run.id);
        void this.reject(run.id, "waybill", "no approval before the approval timeout").catch(
          (error: unknown) => this.log(`run ${run.id}: ${errorMessage(error)}`),
        );
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.approvalTimers.set(run.id, timer);
  }

  private clearApprovalTimer(runId: string): void {
    clearTimeout(this.approvalTimers.get(runId));
    this.approvalTimers.delete(runId);
  }

  private async contextFor(run: RunRecord): Promise<TaskContext> {
    const artifact = await this.artifactFor(run.service, run.digest);
    const spec = parseStoredSpec(artifact);
    const shipped = spec.stages[run.stageIndex];
    if (shipped === undefined)
      throw new Error(`run ${run.id}: stage index ${run.stageIndex} is not in the spec`);
    // The platform's policy is a floor under whatever spec the artifact was recorded with.
    const stage = enforcePolicy(shipped, await this.policies.policyFor(run.service, run.stage));
    const targets: Target[] = stageTargets(stage).map((name) => this.options.targets.resolve(name));
    const previous = new Map<string, ReleaseRecord>();
    for (const release of await this.store.currentReleases(run.service, run.stage)) {
      if (release.runId !== run.id) previous.set(release.target, release);
    }
    return {
      run,
      spec,
      stage,
      artifact,
      history: await this.store.events({ run: run.id }),
      targets,
      previous,
      recommendation: usesAuto(spec) ? await recordedRecommendation(this.store, artifact.digest) : null,
      store: this.store,
      evidence: this.options.evidence,
      signal: this.abortController.signal,
      emit: async (event) => {
        await this.store.append([event]);
      },
      progress: (text) => {
        this.live.set(run.id, text);
      },
    };
  }

  private async artifactFor(service: string, digest: string): Promise<ArtifactRecord> {
    const artifact = await this.store.getArtifact(service, digest);
    if (artifact === undefined) throw new Error(`no artifact ${digest} is recorded for ${service}`);
    return artifact;
  }

  private async specFor(service: string, digest: string): Promise<ServiceSpec> {
    return parseStoredSpec(await this.artifactFor(service, digest));
  }

  private log(line: string): void {
    (this.options.log ?? ((text: string) => process.stderr.write(`${text}\n`)))(line);
  }
}

export function parseStoredSpec(artifact: ArtifactRecord): ServiceSpec {
  return serviceSpecSchema.parse(artifact.spec);
}

/**
 * The targets a failed run must restore: all of them for a stage of one, and for a stage of
 * several only those its rollout reached (the clusters after the failure were never touched).
 */
function touchedTargets(context: TaskContext): Target[] {
  // A rightsize run never touches the stage itself: its copies live in the sizing lab.
  if (context.run.kind === "rightsize") return [];
  if (context.targets.length < 2) return context.targets;
  const { attempts } = foldRunProgress(context.history);
  return context.targets.filter((target) => attempts.has(`deploy ${target.name}`));
}

function stageTimeout(stage: StageSpec, task: TaskHandler): number {
  const configured = stage.timeouts[task.name];
  return configured === undefined ? task.timeoutMs : parseDuration(configured);
}

function queuedEvent(runId: string, data: QueuedRun): NewEvent {
  return newEvent("run.queued", `runs/${runId}`, { runId, ...data }, runId);
}

function newRunId(): string {
  return `r-${randomUUID().slice(0, 13).replace("-", "")}`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
