/**
 * The local target: the artifact runs as a supervised process behind the stage's proxy on
 * this machine. Instances are named after the run that deployed them, so the live instance
 * of a release is always `release.runId`.
 *
 * Each instance gets the stage's `resources` as real limits (a cgroup, where the host lets
 * the runtime make one) and the runtime hints that carry those limits into the language
 * runtime (GOMAXPROCS, NODE_OPTIONS, …); the user's own env always wins.
 *
 * Strategies: `direct` sends traffic to the new version as soon as it is healthy; the others
 * keep it as the proxy's candidate (reachable with `x-waybill-route: candidate`) until
 * release, when the switch is one atomic swap and the old version is stopped after a drain.
 */
import { mkdir, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { LocalRuntime } from "../runtime/local-runtime.js";
import { ROUTE_HEADER, TRANSPORT_HEADER } from "../runtime/index.js";
import { getOnLoopback, nextProbeDelay } from "../runtime/health.js";
import { sleep } from "../runtime/timing.js";
import type { StageKey } from "../runtime/types.js";
import { runtimeHints } from "../kube/runtime-hints.js";
import { commandArgv, parseDuration } from "../spec/units.js";
import { resolveResources, usesAuto } from "../spec/resources.js";
import { recordedRecommendation } from "../evidence/attestation/recorded-recommendation.js";
import type { ArtifactRecord, ReleaseRecord, Store } from "../store/store.js";
import { parseStoredSpec } from "../spec/stored-spec.js";
import { LOCAL_TARGET } from "../spec/target-kinds.js";
import type { ServiceSpec, StageSpec } from "../spec/schema.js";
import type { MeshTls } from "../runtime/types.js";
import type { IssuedHolder, MeshCertificates } from "./mesh-certificates.js";
import type { LimitsReport } from "../runtime/limits-check/compare.js";
import type { Unobservable } from "../runtime/limits-check/probe.js";
import { UserError } from "../errors.js";
import { LocalSizingLab, sizingLabKey } from "./local-sizing-lab.js";
import { loadRecorderEnv, readLoadedFiles, type RecordedRuntime } from "../runtime/load-recorder/recorder.js";
import { readComponents } from "../evidence/sbom/index.js";
import { locatePackages } from "../evidence/usage/locate.js";
import { unusedPackages } from "../evidence/usage/unused-packages.js";
import type { DependencyUsage } from "../evidence/attestation/minimum-environment.js";
import type {
  CanaryTraffic,
  PlainPath,
  SizeLimits,
  SizingLab,
  Target,
  TargetContext,
  TargetMeasurement,
} from "./target.js";

/** The longest pause between two health checks through the stage proxy */
const CHECK_HEALTH_RETRY_MS = 200;

export class LocalTarget implements Target {
  readonly name = LOCAL_TARGET;

  constructor(
    private readonly runtime: LocalRuntime,
    private readonly store: Store,
    /** Where instances get their working folders; apps must be able to reach it */
    private readonly appRoot: string,
    /** Certificates for stages with `security.mtls`; without, such a stage is refused */
    private readonly mesh?: MeshCertificates,
  ) {}

  /**
   * After a control-plane restart, before any run resumes: the mesh certificates of every
   * instance that kept running under mutual TLS, and of its stage's proxy, are renewed by this
   * control plane from now on (at once where due), so they neither expire nor miss a root
   * rotation. Returns how many were issued anew.
   */
  async recoverMesh(): Promise<number> {
    if (this.mesh === undefined) return 0;
    const holders: IssuedHolder[] = [];
    const stages = new Set<string>();
    for (const instance of this.runtime.listInstances()) {
      const tls = instance.launch.tls;
      if (tls === undefined) continue;
      const key = { service: instance.service, stage: instance.stage };
      holders.push({ key, tls, role: "instance", instanceId: instance.id, owner: this.runtime.appUser });
      const proxyTls = this.runtime.getProxy(key)?.tls;
      const label = `${key.service}/${key.stage}`;
      if (proxyTls === undefined || stages.has(label)) continue;
      stages.add(label);
      holders.push({ key, tls: proxyTls, role: "proxy" });
    }
    return holders.length === 0 ? 0 : this.mesh.adopt(holders);
  }

  async deploy(context: TargetContext): Promise<void> {
    const key = stageKey(context);
    await this.runtime.ensureProxy(key, await this.proxyTls(key, context.stage));
    const stable = await this.ensureLive(context.previous, context.signal);
    await this.startInstance(context.run.id, key, context.artifact, context.run.version, context.signal);
    if (context.stage.strategy === "direct") {
      // The old version gets no traffic, but stays reachable by the pin until release, as the
      // test's concurrent baseline.
      await this.runtime.setRoutes(key, { stable: context.run.id, candidate: stable, candidateWeight: 0 });
    } else {
      await this.runtime.setRoutes(key, { stable, candidate: context.run.id, candidateWeight: 0 });
    }
  }

  async checkHealth(context: TargetContext): Promise<void> {
    const spec = context.spec;
    const url = new URL(spec.run.health, this.url(context.run.service, context.run.stage));
    const headers: Record<string, string> =
      context.stage.strategy === "direct" ? {} : { "x-waybill-route": "candidate" };
    const started = Date.now();
    const deadline = started + 10_000;
    let lastProblem = "no answer";
    while (Date.now() < deadline && !context.signal.aborted) {
      const answer = await getOnLoopback(
        Number(url.port),
        `${url.pathname}${url.search}`,
        headers,
        Math.min(2_000, Math.max(1, deadline - Date.now())),
      );
      if ("detail" in answer) {
        lastProblem = answer.detail;
      } else {
        if (answer.status < 400 && answer.instance === context.run.id) return;
        lastProblem = `status ${answer.status} from instance ${answer.instance ?? "none"}`;
      }
      // A miss is usually the route or the app a moment behind: asked again soon, then less often.
      await sleep(nextProbeDelay(Date.now() - started, CHECK_HEALTH_RETRY_MS), context.signal);
    }
    throw new Error(
      `the stage proxy did not reach the new version healthy at ${url.pathname}: ${lastProblem}`,
    );
  }

  async release(context: TargetContext): Promise<void> {
    const key = stageKey(context);
    await this.startInstance(context.run.id, key, context.artifact, context.run.version, context.signal);
    await this.runtime.setRoutes(key, { stable: context.run.id, candidate: null, candidateWeight: 0 });
    await this.retireAllBut(key, context.run.id, parseDuration(context.stage.drain));
  }

  async rollback(context: TargetContext): Promise<void> {
    const key = stageKey(context);
    const stable = await this.ensureLive(context.previous, context.signal);
    if (this.runtime.getProxy(key) !== undefined) {
      await this.runtime.setRoutes(key, { stable, candidate: null, candidateWeight: 0 });
    }
    await this.runtime.stopInstance(context.run.id, parseDuration(context.stage.drain));
    await rm(this.instanceDir(context.run.id), { recursive: true, force: true });
  }

  testEndpoint(context: TargetContext): { url: string; headers: Record<string, string> } {
    const url = this.url(context.run.service, context.run.stage);
    if (url === undefined) throw new Error(`${context.run.service}/${context.run.stage} has no proxy yet`);
    return { url, headers: context.stage.strategy === "direct" ? {} : { [ROUTE_HEADER]: "candidate" } };
  }

  baselineEndpoint(context: TargetContext): { url: string; headers: Record<string, string> } | undefined {
    const live = context.previous?.runId;
    const routes = this.runtime.getProxy(stageKey(context))?.routes;
    const url = this.url(context.run.service, context.run.stage);
    if (live === undefined || routes === undefined || url === undefined) return undefined;
    const side = routes.stable === live ? "stable" : routes.candidate === live ? "candidate" : undefined;
    const running = this.runtime
      .listInstances()
      .some((instance) => instance.id === live && instance.state === "running");
    return side === undefined || !running ? undefined : { url, headers: { [ROUTE_HEADER]: side } };
  }

  async startMeasurement(
    context: TargetContext,
    withBaseline: boolean,
  ): Promise<{ stop(): Promise<TargetMeasurement> }> {
    const window = await this.runtime.openTrafficWindow(stageKey(context));
    const sampler = this.runtime.startProcessSampler(context.run.id);
    const live = context.previous?.runId;
    const baselineSampler =
      withBaseline && live !== undefined ? this.runtime.startProcessSampler(live) : undefined;
    return {
      stop: async () => {
        const [process, baselineProcess] = await Promise.all([
          sampler.stop(),
          baselineSampler?.stop() ?? null,
        ]);
        const traffic = (await window.read())[context.run.id];
        await window.close();
        return { process, baselineProcess, latencySamplesMs: traffic?.latencySamplesMs ?? [] };
      },
    };
  }

  async setCanaryWeight(
    context: TargetContext,
    weight: number,
  ): Promise<{ observe(): Promise<CanaryTraffic> }> {
    const key = stageKey(context);
    const stable = await this.ensureLive(context.previous, context.signal);
    await this.runtime.setRoutes(key, { stable, candidate: context.run.id, candidateWeight: weight });
    const window = await this.runtime.openTrafficWindow(key);
    return {
      observe: async () => {
        const traffic = await window.read();
        await window.close();
        const side = (id: string | null) => {
          const seen = id === null ? undefined : traffic[id];
          return seen === undefined
            ? null
            : {
                latencySamplesMs: seen.latencySamplesMs,
                errorRatePerSecond: seen.errorRatePerSecond,
                requests: seen.requests,
              };
        };
        return { stable: side(stable), canary: side(context.run.id) };
      },
    };
  }

  async runtimeLimits(context: TargetContext): Promise<LimitsReport | Unobservable | null> {
    const runtime = context.spec.run.runtime;
    return runtime === undefined ? null : this.runtime.checkRuntimeLimits(context.run.id, runtime);
  }

  /** The SBOM's packages the new version loaded, and those it never did, since it started. */
  async dependencyUsage(context: TargetContext): Promise<DependencyUsage | null> {
    const recorded = recordedRuntime(context.spec, context.run.stage);
    if (recorded === null) return null;
    const loadedFiles = await readLoadedFiles(recorded, this.loadRecordDir(context.run.id));
    const { components } = await readComponents(context.artifact.path);
    const located = await locatePackages(context.artifact.path, components);
    return unusedPackages({ components, loadedFiles, ...located });
  }

  plainPath(context: TargetContext): PlainPath | null {
    if (!context.stage.security.mtls) return null;
    const instance = this.runtime.listInstances().find((candidate) => candidate.id === context.run.id);
    if (instance === undefined) return null;
    return {
      headers: { ...this.testEndpoint(context).headers, [TRANSPORT_HEADER]: "plain" },
      directUrl: `http://127.0.0.1:${instance.port}`,
      cpuSeconds: async () => ({
        terminator: await this.runtime.leaderCpuSeconds(context.run.id),
        proxy: await this.runtime.proxyCpuSeconds(),
      }),
    };
  }

  async sizingLab(context: TargetContext): Promise<SizingLab> {
    const enforcement = await this.runtime.limitsEnforcement();
    if (!enforcement.enforced) {
      throw new UserError(
        `rightsizing needs CPU and memory limits the kernel enforces, and this host gives no writable cgroup: ${enforcement.reason}`,
      );
    }
    return LocalSizingLab.open(this.runtime, sizingLabKey(stageKey(context)), {
      start: (id, key, size, signal) =>
        this.startInstance(id, key, context.artifact, context.run.version, signal, size),
      remove: (id) => rm(this.instanceDir(id), { recursive: true, force: true }),
    });
  }

  url(service: string, stage: string): string | undefined {
    const proxy = this.runtime.getProxy({ service, stage });
    return proxy && `http://127.0.0.1:${proxy.port}`;
  }

  /** The previous release's instance, started again from its stored artifact if it is gone. */
  private async ensureLive(release: ReleaseRecord | undefined, signal: AbortSignal): Promise<string | null> {
    if (release === undefined) return null;
    const artifact = await this.store.getArtifact(release.service, release.digest);
    if (artifact === undefined) return null;
    const key = { service: release.service, stage: release.stage };
    await this.startInstance(release.runId, key, artifact, release.version, signal);
    return release.runId;
  }

  private async startInstance(
    instanceId: string,
    key: StageKey,
    artifact: ArtifactRecord,
    version: string,
    signal: AbortSignal,
    size?: SizeLimits,
  ): Promise<void> {
    const spec = parseStoredSpec(artifact);
    const cwd = await this.prepareWorkingDir(instanceId, artifact);
    const limits = size ?? (await sizeOf(spec, artifact, this.store));
    const env = { ...runtimeHints(spec.run.runtime, limits, spec.run.env), ...spec.run.env };
    const recorded = recordedRuntime(spec, key.stage);
    const recorder = recorded === null ? {} : this.recorderEnv(recorded, instanceId, env);
    const tls = await this.instanceTls(spec, key, instanceId);
    await this.runtime.startInstance(
      {
        id: instanceId,
        runId: instanceId,
        ...key,
        version,
        digest: artifact.digest,
        launch: {
          cwd,
          command: commandArgv(spec.run.command ?? []),
          env: { ...env, ...recorder },
          ...(tls === undefined ? {} : { tls }),
          limits,
          healthPath: spec.run.health,
          healthTimeoutMs: parseDuration(spec.run.healthTimeout),
        },
      },
      signal,
    );
  }

  /**
   * The instance runs in a folder of its own where the artifact sits at the same relative
   * path it had in the service folder, so `node dist/server.js` finds `dist/`.
   */
  private async prepareWorkingDir(instanceId: string, artifact: ArtifactRecord): Promise<string> {
    if (artifact.mountPath === "." || artifact.mountPath === "") return artifact.path;
    const dir = this.instanceDir(instanceId);
    const mount = join(dir, artifact.mountPath);
    await mkdir(dirname(mount), { recursive: true });
    await symlink(artifact.path, mount, "dir").catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    return dir;
  }

  private instanceDir(instanceId: string): string {
    return join(this.appRoot, "instances", instanceId);
  }

  /**
   * Where the recorder cannot go (a JVM cannot log into a folder whose name has a space, say), the
   * instance runs unrecorded, and the test reports that nothing was recorded.
   */
  private recorderEnv(
    runtime: RecordedRuntime,
    instanceId: string,
    env: Record<string, string>,
  ): Record<string, string> {
    const appUser = this.runtime.appUser;
    try {
      return loadRecorderEnv(
        runtime,
        this.loadRecordDir(instanceId),
        env,
        appUser === undefined ? {} : { appUser },
      );
    } catch {
      return {};
    }
  }

  /** The proxy's side of mutual TLS, for a stage with `security.mtls` */
  private async proxyTls(key: StageKey, stage: StageSpec): Promise<MeshTls | undefined> {
    if (!stage.security.mtls) return undefined;
    return this.requireMesh().forProxy(key, join(this.appRoot, "mesh", key.service, key.stage));
  }

  /** The instance's side of mutual TLS, when its stage (as the release's own spec says) has it */
  private async instanceTls(
    spec: ServiceSpec,
    key: StageKey,
    instanceId: string,
  ): Promise<MeshTls | undefined> {
    const stage = spec.stages.find((candidate) => candidate.name === key.stage);
    if (stage === undefined || !stage.security.mtls) return undefined;
    const dir = join(this.instanceDir(instanceId), "mesh");
    return this.requireMesh().forInstance(key, instanceId, dir, this.runtime.appUser);
  }

  private requireMesh(): MeshCertificates {
    if (this.mesh === undefined) {
      throw new UserError("this control plane has no mesh CA, so it cannot run a stage with security.mtls");
    }
    return this.mesh;
  }

  private loadRecordDir(instanceId: string): string {
    return join(this.instanceDir(instanceId), "loaded");
  }

  private async retireAllBut(key: StageKey, keep: string, drainMs: number): Promise<void> {
    const others = this.runtime
      .listInstances()
      .filter(
        (instance) =>
          instance.service === key.service && instance.stage === key.stage && instance.id !== keep,
      );
    await Promise.all(
      others.map(async (instance) => {
        await this.runtime.stopInstance(instance.id, drainMs);
        await rm(this.instanceDir(instance.id), { recursive: true, force: true });
      }),
    );
  }
}

/**
 * Which runtime's loads an instance records: the new version of a stage whose test runs the
 * built-in load, where the runtime is one the recorder knows. The same answer for every start of
 * one release, so that starting it again finds the same launch and keeps the running instance.
 */
function recordedRuntime(spec: ServiceSpec, stageName: string): RecordedRuntime | null {
  const runtime = spec.run.runtime;
  const stage = spec.stages.find((candidate) => candidate.name === stageName);
  if (stage === undefined || !stage.test || spec.test.load === undefined) return null;
  return runtime === "node" || runtime === "python" || runtime === "jvm" ? runtime : null;
}

/** The declared size, with `auto` resolved from the artifact's recorded recommendation */
async function sizeOf(spec: ServiceSpec, artifact: ArtifactRecord, store: Store): Promise<SizeLimits> {
  const recommendation = usesAuto(spec) ? await recordedRecommendation(store, artifact.digest) : null;
  return resolveResources(spec, recommendation);
}

function stageKey(context: TargetContext): StageKey {
  return { service: context.run.service, stage: context.run.stage };
}
