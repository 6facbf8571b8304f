/**
 * The engine runs runs as event-sourced state machines. Every step is an event appended to
 * the store; the next step is decided from the log alone, so after a crash `start()` picks
 * every unfinished run up where its log ends. A task that had started but not finished runs
 * again (handlers are idempotent); a task whose completion was committed never runs again,
 * and a release is committed together with its task's completion, so it happens once.
 *
 * One run at a time per (service, stage); other runs queue FIFO.
 *
 * Several engines (control-plane replicas) may share one database. Each claims a run's lease
 * before it drives the run, renews it while it does, and releases it when the run finishes or
 * waits for a person; the appends it makes while driving are fenced by that lease, so once
 * another replica has taken the run over (after the lease ran out) nothing more of this one's
 * is committed. A run of a stage with a local target is only claimed on the machine that runs
 * that stage's instances. With `rescanMs`, the engine looks for work the others left on a timer.
 */
import { parseStoredSpec } from "../spec/stored-spec.js";
import { randomUUID } from "node:crypto";
import { ConflictError, errorMessage } from "../errors.js";
import { setTimeout as delay } from "node:timers/promises";
import type { EvidenceService } from "../evidence/evidence-service.js";
import { parseDuration } from "../spec/units.js";
import { stageTargets, type ServiceSpec, type StageSpec } from "../spec/schema.js";
import { newEvent, type NewEvent, type QueuedRun } from "../store/events.js";
import { LeaseLostError, type LeaseHolder } from "../store/leases.js";
import { targetKindOf } from "../spec/target-kinds.js";
import { DEFAULT_LEASE_MS, HeldLease, newReplica } from "./replica.js";
import type { ArtifactRecord, ReleaseRecord, RunRecord, Store } from "../store/store.js";
import type { Target, TargetResolver } from "../targets/target.js";
import { enforcePolicy } from "../policy/protected-policy.js";
import { StagePolicies } from "./policies.js";
import { foldRunProgress } from "./run-progress.js";
import { usesAuto } from "../spec/resources.js";
import { recordedRecommendation } from "../evidence/attestation/recorded-recommendation.js";
import type { PlannedTask, TaskContext, TaskHandler, TaskOutcome, TaskRegistry } from "./task.js";

const ACTIVE_STATES = ["running", "waiting-approval", "rolling-back"] as const;
/** How long a decision waits for the run's lease, held by a replica that is just letting it go */
const DECISION_LEASE_WAIT_MS = 5_000;
const DECISION_LEASE_RETRY_MS = 50;

interface StageKey {
  service: string;
  stage: string;
}

/**
 * A scheduling pass that has not started yet: every stage (`all`) or the stages named. Whoever
 * asks for scheduling while one is waiting joins it, as it starts after their changes.
 */
interface SchedulingPass {
  all: boolean;
  stages: Map<string, StageKey>;
  done: Promise<void>;
}

/** What a stage's scheduling reads: its active run, else its oldest queued one; and its newest queued */
interface StageQueue {
  next: RunRecord | undefined;
  newestQueued: RunRecord | undefined;
}

export interface EngineOptions {
  store: Store;
  evidence: EvidenceService;
  tasks: TaskRegistry;
  targets: TargetResolver;
  log?: (line: string) => void;
  /** Who this replica is (default: a new identity on this machine) */
  replica?: LeaseHolder;
  /** How long a run's lease lasts unless renewed (default 15 s) */
  leaseMs?: number;
  /** Look for runs queued or left behind by other replicas this often; without it, only on changes made here */
  rescanMs?: number;
  /** No other replica can share the store (the embedded SQLite): leases left behind are taken at once */
  soleReplica?: boolean;
}

export class Engine {
  private readonly executing = new Map<string, Promise<void>>();
  private readonly approvalTimers = new Map<string, NodeJS.Timeout>();
  private readonly live = new Map<string, string>();
  private readonly abortController = new AbortController();
  private scheduling: Promise<void> = Promise.resolve();
  private nextPass: SchedulingPass | undefined;
  private stopped = false;
  private rescanTimer: NodeJS.Timeout | undefined;
  private readonly policies: StagePolicies;
  readonly replica: LeaseHolder;
  private readonly leaseMs: number;

  constructor(private readonly options: EngineOptions) {
    this.policies = new StagePolicies(options.store);
    this.replica = options.replica ?? newReplica();
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  private get store(): Store {
    return this.options.store;
  }

  /** Resumes every unfinished run. */
  async start(): Promise<void> {
    await this.schedule();
    if (this.options.rescanMs !== undefined && !this.stopped) {
      this.rescanTimer = setInterval(() => {
        this.schedule().catch((error: unknown) => this.log(`rescan: ${errorMessage(error)}`));
      }, this.options.rescanMs);
      this.rescanTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.rescanTimer);
    this.abortController.abort();
    for (const timer of this.approvalTimers.values()) clearTimeout(timer);
    await Promise.allSettled([...this.executing.values()]);
  }

  /**
   * Queues a run. With `recording`, the events that record its artifact (and its spec, which the
   * store does not have yet) are appended in the same transaction, before the run.queued event.
   */
  async enqueue(
    request: Omit<QueuedRun, "stageIndex">,
    recording?: { events: NewEvent[]; spec: ServiceSpec },
  ): Promise<RunRecord> {
    const spec = recording?.spec ?? (await this.specFor(request.service, request.digest));
    const stageIndex = spec.stages.findIndex((stage) => stage.name === request.stage);
    const runId = newRunId();
    await this.store.append([...(recording?.events ?? []), queuedEvent(runId, { ...request, stageIndex })]);
    await this.schedule({ service: request.service, stage: request.stage });
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

  /**
   * A person's decision counts only while the run still waits for it, and is written under the
   * run's lease: one that crosses an approval timeout or a newer ship at another replica is
   * refused, never applied to a run that has moved on. The replica that brought the run to its
   * wait may hold the lease a moment longer, so it is asked for again for a short while.
   */
  private async decide(runId: string, decision: NewEvent): Promise<void> {
    const giveUpAt = Date.now() + DECISION_LEASE_WAIT_MS;
    for (;;) {
      let decided = false;
      await this.underLease(runId, async (fence) => {
        if ((await this.store.getRun(runId))?.state !== "waiting-approval") return;
        await this.store.append([decision], { fence });
        decided = true;
      });
      if (decided) break;
      if ((await this.store.getRun(runId))?.state !== "waiting-approval") {
        throw new ConflictError(`run ${runId} no longer waits for approval`);
      }
      if (Date.now() >= giveUpAt) {
        throw new ConflictError(`run ${runId} is being changed by another replica; try again in a moment`);
      }
      await delay(DECISION_LEASE_RETRY_MS);
    }
    this.clearApprovalTimer(runId);
    await this.schedule();
  }

  /**
   * Starts whatever may run now, in every stage or in the one named. Serialised, so no run is
   * started twice; requests that arrive while a pass waits to start share it.
   */
  schedule(stage?: StageKey): Promise<void> {
    let pass = this.nextPass;
    if (pass === undefined) {
      const created: SchedulingPass = { all: false, stages: new Map(), done: Promise.resolve() };
      const run = () => {
        if (this.nextPass === created) this.nextPass = undefined;
        return this.scheduleNow(created);
      };
      this.scheduling = this.scheduling.then(run, run);
      created.done = this.scheduling;
      this.nextPass = pass = created;
    }
    if (stage === undefined) pass.all = true;
    else pass.stages.set(`${stage.service}\u0000${stage.stage}`, stage);
    return pass.done;
  }

  private async scheduleNow(pass: SchedulingPass): Promise<void> {
    if (this.stopped) return;
    const queues = pass.all
      ? await this.everyStageQueue()
      : await Promise.all([...pass.stages.values()].map((stage) => this.stageQueue(stage)));
    for (const { next, newestQueued: newest } of queues) {
      if (next === undefined) continue;
      if (next.state === "waiting-approval") {
        if (newest !== undefined && (await this.supersedes(newest))) {
          const reason = `superseded by ${newest.version}`;
          const rejected = await this.underLease(next.id, (fence) =>
            this.store.append(
              [newEvent("run.rejected", `runs/${next.id}`, { by: "waybill", reason }, next.id)],
              { fence },
            ),
          );
          if (!rejected) continue;
          this.clearApprovalTimer(next.id);
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

  /** Every stage with open runs, from one reading of them all */
  private async everyStageQueue(): Promise<StageQueue[]> {
    const open = await this.store.listRuns({ states: ["queued", ...ACTIVE_STATES] });
    const byStage = new Map<string, RunRecord[]>();
    for (const run of open) {
      const key = `${run.service}\u0000${run.stage}`;
      const runs = byStage.get(key);
      if (runs === undefined) byStage.set(key, [run]);
      else runs.push(run);
    }
    return [...byStage.values()].map((runs) => ({
      next: runs.find((run) => run.state !== "queued") ?? runs[0],
      newestQueued: runs.filter((run) => run.state === "queued").at(-1),
    }));
  }

  /** One stage: its first active run, else its oldest queued one, without reading the rest of its queue */
  private async stageQueue({ service, stage }: StageKey): Promise<StageQueue> {
    const [active] = await this.store.listRuns({
      service,
      stage,
      states: [...ACTIVE_STATES],
      limit: 1,
      oldest: true,
    });
    if (active === undefined) {
      const [first] = await this.store.listRuns({
        service,
        stage,
        states: ["queued"],
        limit: 1,
        oldest: true,
      });
      return { next: first, newestQueued: undefined };
    }
    const newest =
      active.state === "waiting-approval"
        ? (await this.store.listRuns({ service, stage, states: ["queued"], limit: 1 }))[0]
        : undefined;
    return { next: active, newestQueued: newest };
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
      .catch((error: unknown) => {
        this.log(`run ${runId}: engine error: ${errorMessage(error)}`);
        return true;
      })
      .then((drove) => {
        this.executing.delete(runId);
        // A run another replica holds changed nothing here: scheduling again would only spin.
        if (drove) void this.schedule();
      });
    this.executing.set(runId, execution);
  }

  /**
   * Claims the run's lease: undefined when another live replica holds it, or it belongs to a
   * local stage of another machine. A takeover is recorded in the run's log before anything else.
   */
  private async claim(runId: string): Promise<HeldLease | undefined> {
    const run = await this.store.getRun(runId);
    if (run === undefined || run.state === "succeeded" || run.state === "failed") return undefined;
    // The embedded store moves with its state folder, so its local stages go wherever it goes.
    const localStage =
      this.options.soleReplica !== true && (await this.hasLocalTarget(run))
        ? { service: run.service, stage: run.stage }
        : undefined;
    const claim = await this.store.claimRun(runId, this.replica, {
      ttlMs: this.leaseMs,
      ...(localStage === undefined ? {} : { localStage }),
      ...(this.options.soleReplica === true ? { soleReplica: true } : {}),
    });
    if (claim.kind === "held" || claim.kind === "other-machine") return undefined;
    const lease = new HeldLease(this.store, runId, this.replica.replica, this.leaseMs, (line) =>
      this.log(line),
    );
    if (claim.kind === "taken-over") {
      this.log(`run ${runId}: taken over from ${claim.from}, whose lease ran out`);
      try {
        await this.store.append(
          [
            newEvent(
              "task.lease-taken-over",
              `runs/${runId}`,
              { from: claim.from, by: this.replica.replica, fence: claim.fence },
              runId,
            ),
          ],
          { fence: lease.fence },
        );
      } catch (error) {
        await lease.end(false);
        throw error;
      }
    }
    return lease;
  }

  /** Runs `work` holding the run's lease, then lets it go; false when the lease was not to be had. */
  private async underLease(
    runId: string,
    work: (fence: HeldLease["fence"]) => Promise<unknown>,
  ): Promise<boolean> {
    const lease = await this.claim(runId);
    if (lease === undefined) return false;
    try {
      await work(lease.fence);
      return true;
    } finally {
      await lease.end(true);
    }
  }

  /** Whether the run's stage deploys to this machine's local runtime (so only this machine may drive it) */
  private async hasLocalTarget(run: RunRecord): Promise<boolean> {
    try {
      const stage = (await this.specFor(run.service, run.digest)).stages[run.stageIndex];
      return stage !== undefined && stageTargets(stage).some((name) => targetKindOf(name).kind === "local");
    } catch {
      // An unreadable spec fails the run when it is driven; it has no machine to wait for.
      return false;
    }
  }

  /** Moves one run forward, under its lease, until it finishes or waits for a person; false when it was not ours to drive. */
  private async drive(runId: string): Promise<boolean> {
    const lease = await this.claim(runId);
    if (lease === undefined) return false;
    try {
      await this.driveHeld(runId, lease);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      this.log(`run ${runId}: ${error.message}; another replica drives it now`);
    } finally {
      await lease.end(true);
    }
    return true;
  }

  private async driveHeld(runId: string, lease: HeldLease): Promise<void> {
    const fence = { fence: lease.fence };
    for (;;) {
      if (this.stopped || lease.lost.aborted) return;
      const run = await this.store.getRun(runId);
      if (run === undefined) return;
      if (run.state === "succeeded" || run.state === "failed" || run.state === "waiting-approval") return;
      if (run.state === "queued") {
        await this.store.append([newEvent("run.started", `runs/${run.id}`, {}, run.id)], fence);
        continue;
      }
      const context = await this.contextFor(run, lease);
      if (run.state === "rolling-back") {
        await this.rollBack(run, context, lease);
        return;
      }
      const progress = foldRunProgress(context.history);
      const task = this.options.tasks
        .tasksFor(run, context.stage)
        .find((planned) => !progress.succeeded.has(planned.name));
      if (task === undefined) {
        await this.finish(run, context.spec, lease);
        return;
      }
      const attempt = (progress.attempts.get(task.name) ?? 0) + 1;
      await this.store.append(
        [newEvent("task.started", `runs/${run.id}`, { task: task.name, attempt }, run.id)],
        fence,
      );
      const targets =
        task.target === undefined ? context.targets : [this.options.targets.resolve(task.target)];
      const outcome = await this.runTask(task, { ...context, targets }, lease);
      await this.record(run, task, outcome, lease);
    }
  }

  private async runTask(task: PlannedTask, context: TaskContext, lease: HeldLease): Promise<TaskOutcome> {
    const timeoutMs = stageTimeout(context.stage, task.handler);
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.abortController.signal.addEventListener("abort", onStop);
    lease.lost.addEventListener("abort", onStop);
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
      lease.lost.removeEventListener("abort", onStop);
      this.live.delete(context.run.id);
    }
  }

  /** Where the running task of a run stands, as it last said (see TaskContext.progress) */
  liveProgress(runId: string): string | undefined {
    return this.live.get(runId);
  }

  private async record(
    run: RunRecord,
    task: PlannedTask,
    outcome: TaskOutcome,
    lease: HeldLease,
  ): Promise<void> {
    const subject = `runs/${run.id}`;
    if (this.stopped || lease.lost.aborted) return;
    const fence = { fence: lease.fence };
    switch (outcome.kind) {
      case "succeeded":
        await this.store.append(
          [
            ...(outcome.events ?? []),
            newEvent(
              "task.succeeded",
              subject,
              outcome.output === undefined
                ? { task: task.name }
                : { task: task.name, output: outcome.output },
              run.id,
            ),
          ],
          fence,
        );
        return;
      case "failed":
        await this.store.append(
          [
            ...(outcome.events ?? []),
            newEvent("task.failed", subject, { task: task.name, reason: outcome.reason }, run.id),
            newEvent("run.rolling-back", subject, { reason: `${task.name}: ${outcome.reason}` }, run.id),
          ],
          fence,
        );
        return;
      case "wait-for-approval": {
        const stage = (await this.specFor(run.service, run.digest)).stages[run.stageIndex];
        const timeoutMs = parseDuration(stage?.approval.timeout ?? "24h");
        const deadline = new Date(Date.now() + timeoutMs).toISOString();
        await this.store.append(
          [newEvent("run.waiting-approval", subject, { result: outcome.result, deadline }, run.id)],
          fence,
        );
        const waiting = await this.store.getRun(run.id);
        if (waiting) await this.armApprovalTimer(waiting);
        return;
      }
    }
  }

  private async rollBack(run: RunRecord, context: TaskContext, lease: HeldLease): Promise<void> {
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
    await this.store.append(
      [
        newEvent("run.rolled-back", subject, { reason: finalReason }, run.id),
        newEvent("run.finished", subject, { state: "failed", reason: finalReason }, run.id),
      ],
      { fence: lease.fence },
    );
  }

  private async finish(run: RunRecord, spec: ServiceSpec, lease: HeldLease): Promise<void> {
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
    await this.store.append(events, { fence: lease.fence });
  }

  private async armApprovalTimer(run: RunRecord): Promise<void> {
    if (this.approvalTimers.has(run.id) || this.stopped) return;
    const progress = foldRunProgress(await this.store.events({ run: run.id }));
    if (progress.approvalDeadline === null) return;
    const delay = Math.max(0, Date.parse(progress.approvalDeadline) - Date.now());
    const timer = setTimeout(
      () => {
        this.approvalTimers.delete(run.id);
        this.timeOutApproval(run.id).catch((error: unknown) =>
          this.log(`run ${run.id}: ${errorMessage(error)}`),
        );
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.approvalTimers.set(run.id, timer);
  }

  /** Every replica arms the timer; the one that holds the lease rejects the run, once. */
  private async timeOutApproval(runId: string): Promise<void> {
    const reason = "no approval before the approval timeout";
    const rejected = await this.underLease(runId, async (fence) => {
      if ((await this.store.getRun(runId))?.state !== "waiting-approval") return;
      await this.store.append([newEvent("run.rejected", `runs/${runId}`, { by: "waybill", reason }, runId)], {
        fence,
      });
    });
    if (rejected) await this.schedule();
  }

  private clearApprovalTimer(runId: string): void {
    clearTimeout(this.approvalTimers.get(runId));
    this.approvalTimers.delete(runId);
  }

  /** With the lease it is driven under, what its tasks emit is fenced by it too. */
  private async contextFor(run: RunRecord, lease?: HeldLease): Promise<TaskContext> {
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
        await this.store.append([event], lease === undefined ? {} : { fence: lease.fence });
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
