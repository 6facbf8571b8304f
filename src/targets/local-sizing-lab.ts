/**
 * The local target's sizing lab: copies of a release, each in a cgroup of its own size, behind a
 * stage proxy of their own (`<stage>.rightsize`), so the experiment's load never reaches the
 * stage's users and the stage's traffic never reaches the copies. The reference is the proxy's
 * `stable` route and the trial its `candidate`, pinned by the route header as the test task pins
 * two versions.
 */
import { ROUTE_HEADER } from "../runtime/index.js";
import type { LocalRuntime } from "../runtime/local-runtime.js";
import type { ProcessSampler, StageKey, TimeWindow } from "../runtime/types.js";
import type { SizeLimits, SizedUsage, SizingLab } from "./target.js";

export function sizingLabKey(stage: StageKey): StageKey {
  return { service: stage.service, stage: `${stage.stage}.rightsize` };
}

interface CopyLauncher {
  start(instanceId: string, key: StageKey, size: SizeLimits, signal: AbortSignal): Promise<void>;
  /** Removes the copy's working folder */
  remove(instanceId: string): Promise<void>;
}

export class LocalSizingLab implements SizingLab {
  readonly referenceHeaders = { [ROUTE_HEADER]: "stable" };
  readonly trialHeaders = { [ROUTE_HEADER]: "candidate" };

  private constructor(
    private readonly runtime: LocalRuntime,
    private readonly key: StageKey,
    private readonly launcher: CopyLauncher,
    readonly url: string,
  ) {}

  static async open(runtime: LocalRuntime, key: StageKey, launcher: CopyLauncher): Promise<LocalSizingLab> {
    const proxy = await runtime.ensureProxy(key);
    return new LocalSizingLab(runtime, key, launcher, `http://127.0.0.1:${proxy.port}`);
  }

  async start(name: string, size: SizeLimits, signal: AbortSignal): Promise<void> {
    await this.launcher.start(this.instanceId(name), this.key, size, signal);
  }

  async pair(reference: string, trial: string): Promise<void> {
    await this.runtime.setRoutes(this.key, {
      stable: this.instanceId(reference),
      candidate: this.instanceId(trial),
      candidateWeight: 0,
    });
  }

  async measure(
    reference: string,
    trial: string,
  ): Promise<{ stop(within?: TimeWindow): Promise<{ reference: SizedUsage; trial: SizedUsage }> }> {
    const [referenceCopy, trialCopy] = await Promise.all([
      this.watch(this.instanceId(reference)),
      this.watch(this.instanceId(trial)),
    ]);
    return {
      stop: async (within) => {
        const [referenceUsage, trialUsage] = await Promise.all([referenceCopy(within), trialCopy(within)]);
        return { reference: referenceUsage, trial: trialUsage };
      },
    };
  }

  async stop(name: string): Promise<void> {
    const id = this.instanceId(name);
    await this.runtime.stopInstance(id, 0);
    await this.launcher.remove(id);
  }

  async close(): Promise<void> {
    await this.runtime.setRoutes(this.key, { stable: null, candidate: null, candidateWeight: 0 });
    const copies = this.runtime
      .listInstances()
      .filter((instance) => instance.service === this.key.service && instance.stage === this.key.stage);
    await Promise.all(
      copies.map(async (copy) => {
        await this.runtime.stopInstance(copy.id, 0);
        await this.launcher.remove(copy.id);
      }),
    );
  }

  /** Copies are named after the stage, so a later attempt finds (and replaces) an earlier one's. */
  private instanceId(name: string): string {
    return `${this.key.service}-${this.key.stage}-${name}`;
  }

  private async watch(instanceId: string): Promise<(within?: TimeWindow) => Promise<SizedUsage>> {
    const restartsAtStart = this.restartsOf(instanceId);
    const oomKillsAtStart = await this.runtime.oomKills(instanceId);
    const sampler: ProcessSampler = this.runtime.startProcessSampler(instanceId);
    return async (within) => {
      const usage = await sampler.stop(within);
      const oomKills = await this.runtime.oomKills(instanceId);
      return {
        cpuSeconds: usage.cpuSeconds,
        memoryMaxMib: usage.memoryMaxMib,
        cpuThrottledPct: usage.cpuThrottledPct,
        perSecond: usage.perSecond ?? { cpuMillicores: [], memoryMib: [] },
        oomKills: oomKills === null || oomKillsAtStart === null ? null : oomKills - oomKillsAtStart,
        restarts: this.restartsOf(instanceId) - restartsAtStart,
      };
    };
  }

  private restartsOf(instanceId: string): number {
    return this.runtime.listInstances().find((instance) => instance.id === instanceId)?.restarts ?? 0;
  }
}
