/**
 * The local runtime: app processes on this machine behind one reverse proxy per stage. It
 * ties the parts together and owns the records: every state change is persisted before it
 * matters, so a control plane killed at any moment can be succeeded by another that adopts,
 * restarts or kills what it finds (see start()).
 */
import type { RuntimeName } from "../kube/runtime-hints.js";
import { fileURLToPath } from "node:url";
import { compareLimits, type LimitsReport } from "./limits-check/compare.js";
import { observeRuntime, type Unobservable } from "./limits-check/probe.js";
import { mkdir } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { UserError, errorMessage } from "../errors.js";
import {
  type CgroupLocation,
  type CgroupPlacement,
  commandInCgroup,
  createInstanceCgroup,
  locateCgroups,
  prepareCgroups,
  readOomKills,
  instanceProcsFiles,
  removeEmptyParents,
  removeInstanceCgroup,
} from "./cgroups.js";
import {
  type DataPlane,
  type DataPlaneFactory,
  InProcessDataPlane,
  type StageTraffic,
  type UpstreamEntry,
} from "./data-plane.js";
import { type HealthWait, describeHealthFailure, probeHealth, waitUntilHealthy } from "./health.js";
import { type AppUser, commandAsUser } from "./app-user.js";
import { expandPort, instanceEnvironment } from "./identity-env.js";
import {
  AdoptedProcess,
  type ExitStatus,
  type InstanceProcess,
  type SpawnedProcess,
  spawnInstanceProcess,
} from "./instance-process.js";
import {
  DEFAULT_LOG_SIZE_CAP_BYTES,
  type LogPaths,
  instanceLogPaths,
  lastLines,
  logDirectory,
  rotateIfOversized,
  sizeOf,
} from "./logs.js";
import { pickFreePort } from "./ports.js";
import { terminateProcessGroup } from "./process-group.js";
import { measureSinceStart, ownCpuSeconds, startSampler } from "./process-metrics.js";
import { planRecovery } from "./recovery/plan.js";
import { isInstanceProcessAlive, listMarkedProcesses } from "./recovery/process-table.js";
import { routesProblem } from "./routing.js";
import {
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  DEFAULT_POLL_INTERVAL_MS,
  type RestartOutcome,
  Supervisor,
} from "./supervisor.js";
import {
  type InstanceIdentity,
  type InstanceRecord,
  type MeshTls,
  type ProcessMetrics,
  type ProcessSampler,
  type ProxyRecord,
  type RequestStats,
  type Routes,
  type RuntimeEvent,
  type RuntimeStateStore,
  type StageKey,
  stageLabel,
} from "./types.js";

export const DEFAULT_PROXY_PORT_RANGE: [number, number] = [7400, 7999];
export const DEFAULT_STOP_GRACE_MS = 5000;
const STDERR_LINES_IN_ERRORS = 10;
const REUSE_HEALTH_PROBE_TIMEOUT_MS = 2000;
const INSTANCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface LocalRuntimeOptions {
  stateDir: string;
  store: RuntimeStateStore;
  /** Marks this control plane's processes; keep it across restarts so recovery finds them */
  controlPlaneId: string;
  onEvent: (event: RuntimeEvent) => void;
  /** Where stage proxies get their stable ports; default 7400–7999 */
  portRange?: [number, number];
  /** Failures in background work (supervision, log rotation); default console.error */
  onError?: (error: unknown) => void;
  /** A log file above this size is rotated; default 5 MiB */
  logSizeCapBytes?: number;
  pollIntervalMs?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Time between SIGTERM and SIGKILL when stopping; default 5 s */
  stopGraceMs?: number;
  /** Apps run as this user (see app-user.ts); undefined runs them as this process's user */
  appUser?: AppUser;
  /**
   * Checks an instance's files before every start and restart; a problem (the artifact no
   * longer matches its digest) fails the start with an `instance.tampered` event, never a
   * silent restart of altered code.
   */
  verifyArtifact?: (record: InstanceRecord) => Promise<string | undefined>;
  /**
   * Serves the proxies' series at http://127.0.0.1:PORT/metrics (Prometheus text format) when
   * set; 0 picks a free port (see metricsUrl()). Not on the stage ports: those are the apps'.
   * Applies to the default, in-process data plane.
   */
  metricsPort?: number;
  /**
   * Where the stage proxies run; default: in this process, closed with it. The control plane
   * gives one in a process of its own (remote-data-plane.ts), which outlives it.
   */
  dataPlane?: DataPlaneFactory;
}

/** A start that failed: the message says why and quotes the app's last stderr lines. */
export class InstanceStartError extends Error {
  constructor(
    message: string,
    readonly exit: ExitStatus | null,
    readonly stderrTail: string[],
  ) {
    super(message);
    this.name = "InstanceStartError";
  }
}

interface ManagedInstance {
  record: InstanceRecord;
  process: InstanceProcess | null;
  /** Set while the first start runs, so a stop can cut it short */
  launch: { abort: AbortController; settled: Promise<unknown> } | null;
  stopping: Promise<void> | null;
}

type LaunchOutcome =
  | { ok: true; process: SpawnedProcess }
  /** `final`: trying again cannot help (the artifact was altered) */
  | { ok: false; why: string; exit: ExitStatus | null; stderrTail: string[]; final?: boolean };

const keyOf = (key: StageKey): string => `${key.service}\u0000${key.stage}`;

export class LocalRuntime {
  private readonly instances = new Map<string, ManagedInstance>();
  private readonly startsInProgress = new Map<string, Promise<InstanceRecord>>();
  /** What the data plane serves now, per stage */
  private readonly proxies = new Map<string, ProxyRecord>();
  private plane: DataPlane | null = null;
  private readonly storedProxies = new Map<string, ProxyRecord>();
  /** Serializes proxy changes so the stored routes always match the served ones */
  private proxyChanges: Promise<unknown> = Promise.resolve();
  private readonly supervisor: Supervisor;
  private phase: "created" | "started" | "closed" = "created";
  private readonly portRange: [number, number];
  private readonly logSizeCapBytes: number;
  private readonly stopGraceMs: number;
  private readonly reportError: (error: unknown) => void;
  /** Found and prepared on the first start of an instance with limits; null where unavailable */
  private cgroupPlacement: Promise<CgroupPlacement | null> | null = null;
  private cgroupLocation: Promise<CgroupLocation> | null = null;
  private cgroupsUnavailable: string | null = null;

  /** The user apps run as, when this process is root; undefined when they run as this process's user */
  get appUser(): AppUser | undefined {
    return this.options.appUser;
  }

  constructor(private readonly options: LocalRuntimeOptions) {
    this.portRange = options.portRange ?? DEFAULT_PROXY_PORT_RANGE;
    this.logSizeCapBytes = options.logSizeCapBytes ?? DEFAULT_LOG_SIZE_CAP_BYTES;
    this.stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.reportError = options.onError ?? ((error) => console.error("waybill runtime:", error));
    this.supervisor = new Supervisor(
      {
        crashed: (instanceId, exit) => this.recordCrash(instanceId, exit),
        restart: (instanceId, attempt, backoffMs, signal) =>
          this.restart(instanceId, attempt, backoffMs, signal),
        housekeeping: () => this.rotateLogs(),
        error: this.reportError,
      },
      { ...DEFAULT_BACKOFF, ...options.backoff },
      options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    );
  }

  /**
   * Recovers what a previous control plane left: kills orphans (marked processes no record
   * owns, e.g. spawned just before a crash), adopts live instances, restarts dead ones, and
   * (re)opens every stage proxy on its port with its routes: a data plane that outlived the
   * previous control plane keeps serving throughout and only takes the current state.
   */
  async start(): Promise<void> {
    if (this.phase !== "created") throw new Error("the runtime was already started");
    const { store, controlPlaneId } = this.options;
    await mkdir(logDirectory(this.options.stateDir), { recursive: true });
    this.plane = await (this.options.dataPlane ?? this.inProcessDataPlane())({
      resync: () => this.pushStateToDataPlane(),
    });
    const records = await store.listInstances();
    const plan = planRecovery(records, listMarkedProcesses(controlPlaneId));

    for (const { pgid, instanceId } of plan.orphans) {
      await terminateProcessGroup(
        pgid,
        () => isInstanceProcessAlive(pgid, instanceId, controlPlaneId),
        this.stopGraceMs,
      );
      await this.removeCgroup(instanceId);
      this.emit({ type: "orphan.killed", pid: pgid, instanceId });
    }
    const recordsById = new Map(records.map((record) => [record.id, record]));
    const adopted: Array<[string, InstanceProcess]> = [];
    for (const { instanceId, pid } of plan.adopt) {
      const record = recordsById.get(instanceId);
      if (record === undefined) continue;
      Object.assign(record, { pid, state: "running" });
      await store.putInstance(record);
      const adoptedProcess = new AdoptedProcess(pid, instanceId, controlPlaneId);
      this.instances.set(instanceId, { record, process: adoptedProcess, launch: null, stopping: null });
      adopted.push([instanceId, adoptedProcess]);
      this.emit({ type: "instance.adopted", instance: structuredClone(record) });
    }
    for (const instanceId of plan.restart) {
      const record = recordsById.get(instanceId);
      if (record === undefined) continue;
      Object.assign(record, { pid: null, state: "stopped" });
      await store.putInstance(record);
      this.instances.set(instanceId, { record, process: null, launch: null, stopping: null });
    }

    for (const stored of await store.listProxies()) this.storedProxies.set(keyOf(stored), stored);
    await this.pushStateToDataPlane();

    this.phase = "started";
    this.supervisor.start();
    for (const [instanceId, adoptedProcess] of adopted) this.supervisor.watch(instanceId, adoptedProcess);
    for (const instanceId of plan.restart) this.supervisor.restartNow(instanceId);
  }

  /**
   * Stops supervising and closes the proxies. Without stopInstances the apps keep running,
   * for the next control plane to adopt. With `keepRecords` their processes stop but their
   * records stay, marked stopped, so the next start brings every one of them back (`waybill
   * down`); without it they are forgotten.
   */
  async close(options: { stopInstances: boolean; keepRecords?: boolean }): Promise<void> {
    if (this.phase === "closed") return;
    this.phase = "closed";
    for (const managed of this.instances.values()) managed.launch?.abort.abort();
    await Promise.all([...this.instances.values()].map((managed) => managed.launch?.settled));
    await this.supervisor.close();
    if (options.stopInstances && options.keepRecords === true) {
      await Promise.all([...this.instances.values()].map((managed) => this.suspend(managed)));
    } else if (options.stopInstances) {
      await Promise.all([...this.instances.keys()].map((instanceId) => this.stopInstance(instanceId, 0)));
    } else {
      for (const managed of this.instances.values()) managed.process?.release();
    }
    await this.plane?.close(options.stopInstances ? "stop" : "leave");
    this.proxies.clear();
    const placement = await this.cgroupPlacement;
    if (options.stopInstances && placement !== null) await removeEmptyParents(placement);
  }

  /** Where the proxies' Prometheus series are served; undefined without `metricsPort` or before start(). */
  metricsUrl(): string | undefined {
    return this.plane?.metricsUrl();
  }

  /** The stage's proxy, listening on its stable port (the stored one, else the first free one). */
  /**
   * The stage's proxy, listening on its stable port (the stored one, else the first free one),
   * speaking mutual TLS to the stage's instances with `tls`, plain HTTP without.
   */
  ensureProxy(key: StageKey, tls?: MeshTls): Promise<ProxyRecord> {
    this.assertStarted();
    return this.serializeProxyChange(async () => {
      const open = this.proxies.get(keyOf(key));
      if (open !== undefined && isDeepStrictEqual(open.tls, tls)) return structuredClone(open);
      const stored = this.storedProxies.get(keyOf(key));
      if (stored !== undefined) {
        const { tls: _previous, ...plain } = stored;
        const wanted: ProxyRecord = tls === undefined ? plain : { ...plain, tls };
        if (!isDeepStrictEqual(stored, wanted)) {
          await this.options.store.putProxy(wanted);
          this.storedProxies.set(keyOf(key), wanted);
        }
        return this.reopenProxy(wanted);
      }
      const opened = await this.dataPlane().openStage(
        key,
        { stable: null, candidate: null, candidateWeight: 0 },
        { reserved: [...this.reservedPorts()], ...(tls === undefined ? {} : { tls }) },
      );
      await this.options.store.putProxy(opened);
      this.storedProxies.set(keyOf(key), opened);
      this.proxies.set(keyOf(key), opened);
      return structuredClone(opened);
    });
  }

  getProxy(key: StageKey): ProxyRecord | undefined {
    const served = this.proxies.get(keyOf(key));
    return served === undefined ? undefined : structuredClone(served);
  }

  /** Switches the stage's routes at once; requests already in flight finish where they are. */
  setRoutes(key: StageKey, routes: Routes): Promise<void> {
    this.assertStarted();
    const problem = routesProblem(routes);
    if (problem !== null) throw new UserError(`invalid routes for ${stageLabel(key)}: ${problem}`);
    for (const instanceId of [routes.stable, routes.candidate]) {
      if (instanceId === null) continue;
      const record = this.instances.get(instanceId)?.record;
      if (record === undefined || record.service !== key.service || record.stage !== key.stage) {
        throw new Error(`cannot route ${stageLabel(key)} to ${instanceId}: no such instance in this stage`);
      }
    }
    return this.serializeProxyChange(async () => {
      const proxy = this.proxies.get(keyOf(key));
      if (proxy === undefined) throw new Error(`${stageLabel(key)} has no proxy: call ensureProxy first`);
      const next: Routes = {
        stable: routes.stable,
        candidate: routes.candidate,
        candidateWeight: routes.candidateWeight,
      };
      const record: ProxyRecord = {
        ...key,
        port: proxy.port,
        routes: next,
        ...(proxy.tls === undefined ? {} : { tls: proxy.tls }),
      };
      // Stored first: if the write fails nothing changed, and after a crash the stored routes
      // are the ones last served.
      await this.options.store.putProxy(record);
      this.storedProxies.set(keyOf(key), record);
      await this.dataPlane().setRoutes(key, next);
      this.proxies.set(keyOf(key), record);
    });
  }

  /**
   * Starts an instance and waits until it is healthy. Idempotent per id: a healthy instance
   * with the same identity is returned as it is; anything else under that id is replaced.
   */
  startInstance(identity: InstanceIdentity, signal?: AbortSignal): Promise<InstanceRecord> {
    this.assertStarted();
    assertValidInstanceId(identity.id);
    const previous = this.startsInProgress.get(identity.id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.startOrReuse(identity, signal));
    this.startsInProgress.set(identity.id, run);
    const forget = (): void => {
      if (this.startsInProgress.get(identity.id) === run) this.startsInProgress.delete(identity.id);
    };
    run.then(forget, forget);
    return run;
  }

  /**
   * Waits (at most drainMs) until no proxied request to the instance is in flight, then stops
   * its process group and deletes its record. Idempotent.
   */
  stopInstance(id: string, drainMs: number): Promise<void> {
    const managed = this.instances.get(id);
    if (managed === undefined) return Promise.resolve();
    managed.stopping ??= this.stopManaged(managed, drainMs);
    return managed.stopping;
  }

  listInstances(): InstanceRecord[] {
    return [...this.instances.values()].map((managed) => structuredClone(managed.record));
  }

  logFiles(id: string): LogPaths {
    assertValidInstanceId(id);
    return instanceLogPaths(this.options.stateDir, id);
  }

  stats(key: StageKey): Promise<Record<string, RequestStats>> {
    return this.dataPlane().stats(key);
  }

  /**
   * Records what the stage's proxy sees per instance from now until the window is closed: counts,
   * latency percentiles and samples, and error rates per second. Windows are independent.
   */
  openTrafficWindow(key: StageKey): Promise<StageTraffic> {
    if (!this.proxies.has(keyOf(key))) {
      return Promise.reject(new Error(`${stageLabel(key)} has no proxy: call ensureProxy first`));
    }
    return this.dataPlane().openWindow(key);
  }

  /** The instance's CPU time, peak memory and throttling since its processes started. */
  processMetrics(instanceId: string): Promise<ProcessMetrics> {
    const pid = this.instances.get(instanceId)?.record.pid;
    if (pid === undefined) return Promise.reject(new Error(`no instance ${instanceId}`));
    if (pid === null) return Promise.reject(new Error(`instance ${instanceId} has no running process`));
    return measureSinceStart(pid);
  }

  /**
   * Samples the instance's process group until stop(), which reports the CPU time used in
   * between, the peak memory seen and the throttling. Follows the instance across restarts.
   */
  startProcessSampler(instanceId: string): ProcessSampler {
    if (!this.instances.has(instanceId)) throw new Error(`no instance ${instanceId}`);
    return startSampler(() => this.instances.get(instanceId)?.record.pid ?? null);
  }

  private async startOrReuse(identity: InstanceIdentity, signal?: AbortSignal): Promise<InstanceRecord> {
    const existing = this.instances.get(identity.id);
    if (existing !== undefined) {
      if (await this.isHealthyAndSame(existing, identity)) return structuredClone(existing.record);
      await this.stopInstance(identity.id, 0);
    }
    return this.startFresh(identity, signal);
  }

  private async isHealthyAndSame(managed: ManagedInstance, identity: InstanceIdentity): Promise<boolean> {
    const { record } = managed;
    const same = isDeepStrictEqual(
      [record.service, record.stage, record.runId, record.version, record.digest, record.launch],
      [identity.service, identity.stage, identity.runId, identity.version, identity.digest, identity.launch],
    );
    if (!same || managed.stopping !== null || record.state !== "running" || !managed.process?.isAlive())
      return false;
    return (await probeHealth(record.port, record.launch.healthPath, REUSE_HEALTH_PROBE_TIMEOUT_MS)).healthy;
  }

  private async startFresh(identity: InstanceIdentity, callerSignal?: AbortSignal): Promise<InstanceRecord> {
    const reserved = this.reservedPorts();
    const port = await pickFreePort(reserved);
    const tlsPort = identity.launch.tls === undefined ? undefined : await pickFreePort(reserved.add(port));
    const record: InstanceRecord = {
      ...identity,
      port,
      ...(tlsPort === undefined ? {} : { tlsPort }),
      pid: null,
      state: "starting",
      restarts: 0,
    };
    const abort = new AbortController();
    const signal = callerSignal === undefined ? abort.signal : AbortSignal.any([abort.signal, callerSignal]);
    const managed: ManagedInstance = { record, process: null, launch: null, stopping: null };
    this.instances.set(record.id, managed);

    const started = (async (): Promise<InstanceRecord> => {
      let outcome: LaunchOutcome;
      try {
        // Stored before the spawn: a crash from here on leaves a record that recovery resolves.
        await this.options.store.putInstance(record);
        outcome = await this.launch(managed, signal);
        if (outcome.ok && signal.aborted) {
          await outcome.process.terminate(this.stopGraceMs);
          outcome = { ok: false, why: "start was aborted", exit: null, stderrTail: [] };
        }
        if (outcome.ok) {
          record.state = "running";
          await this.options.store.putInstance(record);
        }
      } catch (error) {
        await managed.process?.terminate(this.stopGraceMs);
        await this.forgetInstance(managed);
        throw error;
      }
      if (!outcome.ok) {
        await this.forgetInstance(managed);
        const tail =
          outcome.stderrTail.length === 0 ? "" : `\nlast stderr lines:\n  ${outcome.stderrTail.join("\n  ")}`;
        throw new InstanceStartError(
          `instance ${record.id} (${stageLabel(record)} ${record.version}) failed to start: ${outcome.why}${tail}`,
          outcome.exit,
          outcome.stderrTail,
        );
      }
      this.supervisor.watch(record.id, outcome.process);
      this.emit({ type: "instance.started", instance: structuredClone(record) });
      return structuredClone(record);
    })();
    managed.launch = { abort, settled: started.catch(() => undefined) };
    try {
      return await started;
    } finally {
      managed.launch = null;
    }
  }

  /** Spawns the instance on its port and waits for health; on failure nothing is left running. */
  private async launch(managed: ManagedInstance, signal: AbortSignal): Promise<LaunchOutcome> {
    const { record } = managed;
    const logs = instanceLogPaths(this.options.stateDir, record.id);
    const stderrOffset = await sizeOf(logs.stderr);
    const tampered = await this.options.verifyArtifact?.(record);
    if (tampered !== undefined) {
      this.emit({ type: "instance.tampered", instance: structuredClone(record), reason: tampered });
      return { ok: false, why: tampered, exit: null, stderrTail: [], final: true };
    }
    let spawned: SpawnedProcess;
    try {
      spawned = await spawnInstanceProcess({
        command: await this.commandWithLimits(record),
        cwd: record.launch.cwd,
        env: instanceEnvironment(process.env, record, record.port, this.options.controlPlaneId),
        logs,
      });
    } catch (error) {
      return { ok: false, why: errorMessage(error), exit: null, stderrTail: [] };
    }
    managed.process = spawned;
    record.pid = spawned.pid;
    await this.publishUpstream(managed);
    let health: HealthWait;
    try {
      await this.options.store.putInstance(record);
      health = await waitUntilHealthy({
        port: record.port,
        path: record.launch.healthPath,
        timeoutMs: record.launch.healthTimeoutMs,
        exited: spawned.exited,
        signal,
      });
    } catch (error) {
      await spawned.terminate(this.stopGraceMs);
      managed.process = null;
      record.pid = null;
      await this.publishUpstream(managed);
      throw error;
    }
    if (health.healthy) return { ok: true, process: spawned };
    await spawned.terminate(this.stopGraceMs);
    managed.process = null;
    record.pid = null;
    await this.publishUpstream(managed);
    return {
      ok: false,
      why: describeHealthFailure(health, record.launch.healthTimeoutMs, record.launch.healthPath),
      exit: spawned.exitStatus(),
      stderrTail: await lastLines(logs.stderr, stderrOffset, STDERR_LINES_IN_ERRORS),
    };
  }

  private async stopManaged(managed: ManagedInstance, drainMs: number): Promise<void> {
    const { record } = managed;
    managed.launch?.abort.abort();
    await managed.launch?.settled;
    // Unwatched before the process goes, so its exit is not taken for a crash.
    await this.supervisor.unwatch(record.id);
    if (this.instances.get(record.id) !== managed) return; // the aborted first start cleaned up
    if (this.proxies.has(keyOf(record))) await this.dataPlane().whenIdle(record, record.id, drainMs);
    await managed.process?.terminate(this.stopGraceMs);
    managed.process = null;
    await this.forgetInstance(managed);
    this.emit({ type: "instance.stopped", instance: { ...structuredClone(record), state: "stopped" } });
  }

  /** Stops the process and keeps the record, stopped, for the next start to restart. */
  private async suspend(managed: ManagedInstance): Promise<void> {
    await this.supervisor.unwatch(managed.record.id);
    await managed.process?.terminate(this.stopGraceMs);
    managed.process = null;
    Object.assign(managed.record, { pid: null, state: "stopped" });
    await this.publishUpstream(managed);
    await this.options.store.putInstance(managed.record);
    if (managed.record.launch.limits !== undefined) await this.removeCgroup(managed.record.id);
    this.emit({ type: "instance.stopped", instance: structuredClone(managed.record) });
  }

  private async forgetInstance(managed: ManagedInstance): Promise<void> {
    // A newer instance under the same id owns the stored record by now.
    if (this.instances.get(managed.record.id) !== managed) return;
    this.instances.delete(managed.record.id);
    await this.plane?.removeUpstream(managed.record.id).catch(this.reportError);
    if (managed.record.launch.limits !== undefined) await this.removeCgroup(managed.record.id);
    await this.options.store.deleteInstance(managed.record.id);
  }

  /**
   * The launch command, run as the app user, made to join a cgroup with the instance's limits
   * where the host allows: the join needs this process's rights, so it comes before the drop.
   */
  private async commandWithLimits(record: InstanceRecord): Promise<string[]> {
    const { limits } = record.launch;
    const user = this.options.appUser;
    const app = expandPort(record.launch.command, record.port);
    const own = record.launch.tls === undefined ? app : withTlsSidecar(record, record.launch.tls, app);
    const command = user === undefined ? own : commandAsUser(user, own);
    if (limits === undefined) return command;
    const placement = await this.preparedCgroups();
    if (placement === null) return command;
    try {
      return commandInCgroup(await createInstanceCgroup(placement, record.id, limits), command);
    } catch (error) {
      this.reportError(
        new Error(`instance ${record.id} runs without its CPU and memory limits: ${errorMessage(error)}`),
      );
      return command;
    }
  }

  /**
   * Whether instances really get their CPU and memory limits here, or why not: an experiment
   * about limits (rightsizing) must refuse to run without them.
   */
  async limitsEnforcement(): Promise<{ enforced: true } | { enforced: false; reason: string }> {
    if ((await this.preparedCgroups()) !== null) return { enforced: true };
    return { enforced: false, reason: this.cgroupsUnavailable ?? "no writable cgroup" };
  }

  /**
   * Whether the instance's language runtime took the limits it was launched with (see
   * limits-check/): what it was seen to take, and each mismatch as a sentence.
   */
  async checkRuntimeLimits(instanceId: string, runtime: RuntimeName): Promise<LimitsReport | Unobservable> {
    const record = this.instances.get(instanceId)?.record;
    if (record === undefined) return { unobservable: `no instance ${instanceId}` };
    const { limits } = record.launch;
    if (record.pid === null) return { unobservable: `instance ${instanceId} has no running process` };
    if (limits === undefined) return { unobservable: `instance ${instanceId} was started without limits` };
    const placement = await this.preparedCgroups();
    const observation = await observeRuntime({
      runtime,
      pid: record.pid,
      ...(placement === null ? {} : { procsFiles: instanceProcsFiles(placement, instanceId) }),
    });
    if ("unobservable" in observation) return observation;
    return compareLimits({ limits, launchEnv: record.launch.env, observation });
  }

  /**
   * CPU seconds of the instance's own leading process, without its children: for an instance
   * behind a TLS sidecar, the terminator's. Null when it is not running.
   */
  async leaderCpuSeconds(instanceId: string): Promise<number | null> {
    const pid = this.instances.get(instanceId)?.record.pid;
    return pid === undefined || pid === null ? null : ownCpuSeconds(pid);
  }

  /** CPU seconds the data plane's process (every stage proxy) has used; null where it cannot be read */
  async proxyCpuSeconds(): Promise<number | null> {
    const pid = this.plane?.processId();
    return pid === undefined ? null : ownCpuSeconds(pid);
  }

  /** How often the kernel's OOM killer struck the instance's cgroup; null where it does not tell. */
  async oomKills(instanceId: string): Promise<number | null> {
    assertValidInstanceId(instanceId);
    const placement = await this.preparedCgroups();
    return placement === null ? null : readOomKills(placement, instanceId);
  }

  private preparedCgroups(): Promise<CgroupPlacement | null> {
    const withoutLimits = (reason: string): null => {
      this.cgroupsUnavailable = reason;
      this.reportError(
        new Error(
          `CPU and memory limits are not enforced on this host, instances run without them: ${reason}`,
        ),
      );
      return null;
    };
    this.cgroupPlacement ??= (async () => {
      const location = await this.locatedCgroups();
      if (!location.found) return withoutLimits(location.reason);
      const prepared = await prepareCgroups(location.placement);
      if (!prepared.ok) return withoutLimits(prepared.reason);
      return location.placement;
    })();
    return this.cgroupPlacement;
  }

  private locatedCgroups(): Promise<CgroupLocation> {
    this.cgroupLocation ??= locateCgroups(this.options.controlPlaneId);
    return this.cgroupLocation;
  }

  /** Never throws: a cgroup left behind must not fail a stop. */
  private async removeCgroup(instanceId: string): Promise<void> {
    try {
      const location = await this.locatedCgroups();
      if (location.found) await removeInstanceCgroup(location.placement, instanceId);
    } catch (error) {
      this.reportError(error);
    }
  }

  private async recordCrash(instanceId: string, exit: ExitStatus | null): Promise<void> {
    const managed = this.instances.get(instanceId);
    if (managed === undefined || managed.stopping !== null) return;
    managed.process = null;
    Object.assign(managed.record, { pid: null, state: "stopped" });
    await this.publishUpstream(managed);
    await this.options.store.putInstance(managed.record);
    this.emit({
      type: "instance.crashed",
      instance: structuredClone(managed.record),
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
    });
  }

  private async restart(
    instanceId: string,
    attempt: number,
    backoffMs: number,
    signal: AbortSignal,
  ): Promise<RestartOutcome> {
    const managed = this.instances.get(instanceId);
    if (managed === undefined || managed.stopping !== null) return { ok: false, exit: null };
    const { record } = managed;
    Object.assign(record, { pid: null, state: "starting", restarts: record.restarts + 1 });
    await this.options.store.putInstance(record);
    const outcome = await this.launch(managed, signal);
    if (!outcome.ok) {
      record.state = "stopped";
      await this.options.store.putInstance(record);
      return { ok: false, exit: outcome.exit, final: outcome.final === true };
    }
    record.state = "running";
    // The app is back either way; a failed write leaves the record "starting" with its pid,
    // which a later recovery adopts.
    await this.options.store.putInstance(record).catch(this.reportError);
    this.emit({ type: "instance.restarted", instance: structuredClone(record), attempt, backoffMs });
    return { ok: true, process: outcome.process };
  }

  private async rotateLogs(): Promise<void> {
    for (const instanceId of this.instances.keys()) {
      const logs = instanceLogPaths(this.options.stateDir, instanceId);
      await rotateIfOversized(logs.stdout, this.logSizeCapBytes);
      await rotateIfOversized(logs.stderr, this.logSizeCapBytes);
    }
  }

  /**
   * Gives the data plane the whole current state: every instance's upstream, every stage on its
   * stored port with its routes, and nothing else. Run at start and whenever a data plane of its
   * own had to be started again.
   */
  private async pushStateToDataPlane(): Promise<void> {
    const plane = this.dataPlane();
    await plane.putUpstreams(
      [...this.instances.values()].map((managed) => upstreamOf(managed)),
      true,
    );
    for (const stored of [...this.storedProxies.values()]) await this.reopenProxy(stored);
    await plane.retainStages([...this.storedProxies.values()]);
  }

  /**
   * Opens the stage on its stored port again. Another program may have taken it while the
   * control plane was down; the stage then moves to a free port rather than keeping the
   * control plane from starting, and the move is reported.
   */
  private async reopenProxy(stored: ProxyRecord): Promise<ProxyRecord> {
    const reserved = this.reservedPorts();
    reserved.delete(stored.port);
    const opened = await this.dataPlane().openStage(stored, stored.routes, {
      port: stored.port,
      reserved: [...reserved],
      ...(stored.tls === undefined ? {} : { tls: stored.tls }),
    });
    this.proxies.set(keyOf(stored), opened);
    if (opened.port !== stored.port) {
      await this.options.store.putProxy(opened);
      this.storedProxies.set(keyOf(stored), opened);
      this.reportError(
        new Error(
          `${stageLabel(stored)}: port ${stored.port} was taken; the stage now listens on ${opened.port}`,
        ),
      );
    }
    return structuredClone(opened);
  }

  /** Tells the data plane where the instance answers now; a failure is reported, not thrown. */
  private async publishUpstream(managed: ManagedInstance): Promise<void> {
    if (this.instances.get(managed.record.id) !== managed) return;
    await this.dataPlane()
      .putUpstreams([upstreamOf(managed)], false)
      .catch(this.reportError);
  }

  private inProcessDataPlane(): DataPlaneFactory {
    const { metricsPort } = this.options;
    return () =>
      InProcessDataPlane.start({
        portRange: this.portRange,
        ...(metricsPort === undefined ? {} : { metricsPort }),
      });
  }

  private dataPlane(): DataPlane {
    if (this.plane === null) throw new Error("the runtime is not started: call start() first");
    return this.plane;
  }

  private reservedPorts(): Set<number> {
    const ports = new Set<number>();
    for (const { record } of this.instances.values()) {
      ports.add(record.port);
      if (record.tlsPort !== undefined) ports.add(record.tlsPort);
    }
    for (const { port } of this.storedProxies.values()) ports.add(port);
    return ports;
  }

  private serializeProxyChange<T>(change: () => Promise<T>): Promise<T> {
    const result = this.proxyChanges.then(change, change);
    this.proxyChanges = result.catch(() => undefined);
    return result;
  }

  private emit(event: RuntimeEvent): void {
    try {
      this.options.onEvent(event);
    } catch (error) {
      this.reportError(error);
    }
  }

  private assertStarted(): void {
    if (this.phase === "created") throw new Error("the runtime is not started: call start() first");
    if (this.phase === "closed") throw new Error("the runtime is closed");
  }
}

function assertValidInstanceId(id: string): void {
  // Ids name log files, so they must not be able to point outside the log directory.
  if (!INSTANCE_ID_PATTERN.test(id)) {
    throw new UserError(`invalid instance id ${JSON.stringify(id)}: use letters, digits, '.', '_' and '-'`);
  }
}

function upstreamOf({ record, process }: ManagedInstance): UpstreamEntry {
  return {
    service: record.service,
    stage: record.stage,
    instanceId: record.id,
    version: record.version,
    port: process === null ? null : record.port,
    ...(record.tlsPort === undefined ? {} : { tlsPort: process === null ? null : record.tlsPort }),
  };
}

/** The sidecar process that runs the app as its child and terminates mutual TLS in front of it */
const TLS_SIDECAR_ENTRY = fileURLToPath(new URL("../security/sidecar-main.js", import.meta.url));

/**
 * The app's argv run under its TLS sidecar: the sidecar listens on the instance's TLS port before
 * it starts the app, forwards to the app's plain port, and leaves with the app, so the instance
 * is still one process group that the runtime starts, measures and stops as before.
 */
function withTlsSidecar(record: InstanceRecord, tls: MeshTls, app: string[]): string[] {
  if (record.tlsPort === undefined) throw new Error(`instance ${record.id} has TLS but no TLS port`);
  return [
    process.execPath,
    TLS_SIDECAR_ENTRY,
    "--port",
    String(record.tlsPort),
    "--upstream-port",
    String(record.port),
    "--cert",
    tls.certFile,
    "--key",
    tls.keyFile,
    "--ca",
    tls.caFile,
    "--trust-domain",
    tls.trustDomain,
    "--service",
    record.service,
    "--stage",
    record.stage,
    "--",
    ...app,
  ];
}
