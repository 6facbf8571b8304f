/**
 * The data plane: every stage's proxy, its routes, the upstream table and the request meters.
 * `LocalRuntime` decides (it owns the records); the data plane serves. The interface is
 * asynchronous so it can live in a process of its own (`data-plane-daemon.ts`, reached through
 * `remote-data-plane.ts`) that keeps serving with its last routes while the control plane is
 * away. `InProcessDataPlane` is the one implementation of serving, used in both places.
 */
import { MetricsEndpoint, type StageInstanceMetrics } from "./metrics.js";
import { isAddressTaken } from "./ports.js";
import { StageProxy } from "./proxy.js";
import { emptyInstanceMetrics } from "./traffic.js";
import type {
  InstanceTraffic,
  MeshTls,
  ProxyRecord,
  RequestStats,
  Routes,
  StageKey,
  TrafficWindow,
} from "./types.js";

/** Where one instance answers; `port` is null while it cannot take requests. */
export interface UpstreamEntry extends StageKey {
  instanceId: string;
  version: string;
  port: number | null;
  /** Its TLS terminator's port, for a stage with mutual TLS */
  tlsPort?: number | null;
}

/** What a stage's proxy saw per instance while the window was open. */
export interface StageTraffic {
  read(): Promise<Record<string, InstanceTraffic>>;
  close(): Promise<void>;
}

export interface OpenStageOptions {
  /** The stage's stable port; when another program holds it, the first free port is taken */
  port?: number;
  /** Ports not to take when searching (instances' ports, other stages') */
  reserved: readonly number[];
  /** Mutual TLS to the stage's instances */
  tls?: MeshTls;
}

export interface DataPlane {
  /** Listens for the stage, or updates its routes if it already does; says where it listens. */
  openStage(key: StageKey, routes: Routes, options: OpenStageOptions): Promise<ProxyRecord>;
  setRoutes(key: StageKey, routes: Routes): Promise<void>;
  /** Closes every stage not named here (after a restart, stages the records no longer hold). */
  retainStages(keys: readonly StageKey[]): Promise<void>;
  /** With `replaceAll`, entries not given are removed. */
  putUpstreams(entries: readonly UpstreamEntry[], replaceAll: boolean): Promise<void>;
  /** The instance is gone: no route to it, and its series leave /metrics. */
  removeUpstream(instanceId: string): Promise<void>;
  openWindow(key: StageKey): Promise<StageTraffic>;
  stats(key: StageKey): Promise<Record<string, RequestStats>>;
  /** True when no proxied request to the instance was in flight before the timeout. */
  whenIdle(key: StageKey, instanceId: string, timeoutMs: number): Promise<boolean>;
  /** Where Prometheus scrapes the proxies' series; undefined when not served */
  metricsUrl(): string | undefined;
  /** The process that serves the stages, whose CPU time is the proxies' */
  processId(): number | undefined;
  /**
   * `stop` ends serving for good (`waybill down`); `leave` lets the stages go on serving where
   * that outlives this process (a data plane of its own) and closes them where it cannot.
   */
  close(mode: "stop" | "leave"): Promise<void>;
}

/** Builds the runtime's data plane; `resync` pushes the runtime's whole state again. */
export type DataPlaneFactory = (hooks: { resync(): Promise<void> }) => Promise<DataPlane>;

export interface InProcessDataPlaneOptions {
  portRange: [number, number];
  /** Serves /metrics when set; 0 picks a free port */
  metricsPort?: number;
}

const keyOf = (key: StageKey): string => `${key.service}\u0000${key.stage}`;

export class InProcessDataPlane implements DataPlane {
  private readonly stages = new Map<string, StageProxy>();
  private readonly upstreams = new Map<string, UpstreamEntry>();
  private readonly metricsEndpoint: MetricsEndpoint | null;

  private constructor(private readonly options: InProcessDataPlaneOptions) {
    this.metricsEndpoint =
      options.metricsPort === undefined ? null : new MetricsEndpoint(() => this.collectMetrics());
  }

  static async start(options: InProcessDataPlaneOptions): Promise<InProcessDataPlane> {
    const plane = new InProcessDataPlane(options);
    if (plane.metricsEndpoint !== null) await plane.metricsEndpoint.listen(options.metricsPort ?? 0);
    return plane;
  }

  async openStage(key: StageKey, routes: Routes, options: OpenStageOptions): Promise<ProxyRecord> {
    const open = this.stages.get(keyOf(key));
    if (open !== undefined) {
      open.setRoutes(routes);
      open.setTls(options.tls);
      if (options.port === undefined || options.port === open.port) return open.record();
      this.stages.delete(keyOf(key));
      await open.close();
    }
    const proxy = new StageProxy({ service: key.service, stage: key.stage }, routes, (instanceId) => {
      const upstream = this.upstreams.get(instanceId);
      return upstream === undefined
        ? undefined
        : {
            version: upstream.version,
            port: upstream.port ?? undefined,
            tlsPort: upstream.tlsPort ?? undefined,
          };
    });
    proxy.setTls(options.tls);
    if (!(await this.listenOnStablePort(proxy, options.port))) {
      const reserved = new Set(options.reserved);
      for (const stage of this.stages.values()) reserved.add(stage.port);
      if (options.port !== undefined) reserved.add(options.port);
      await proxy.listenOnFirstFree(this.options.portRange, reserved);
    }
    this.stages.set(keyOf(key), proxy);
    return proxy.record();
  }

  async setRoutes(key: StageKey, routes: Routes): Promise<void> {
    this.stageOf(key).setRoutes(routes);
  }

  async retainStages(keys: readonly StageKey[]): Promise<void> {
    const kept = new Set(keys.map(keyOf));
    for (const [key, proxy] of [...this.stages]) {
      if (kept.has(key)) continue;
      this.stages.delete(key);
      await proxy.close();
    }
  }

  async putUpstreams(entries: readonly UpstreamEntry[], replaceAll: boolean): Promise<void> {
    if (replaceAll) {
      const given = new Set(entries.map((entry) => entry.instanceId));
      for (const instanceId of [...this.upstreams.keys()]) {
        if (!given.has(instanceId)) await this.removeUpstream(instanceId);
      }
    }
    for (const entry of entries) this.upstreams.set(entry.instanceId, { ...entry });
  }

  async removeUpstream(instanceId: string): Promise<void> {
    const entry = this.upstreams.get(instanceId);
    this.upstreams.delete(instanceId);
    if (entry !== undefined) this.stages.get(keyOf(entry))?.meter.forget(instanceId);
  }

  async openWindow(key: StageKey): Promise<StageTraffic> {
    const window = this.openMeterWindow(key);
    return {
      read: async () => window.read(),
      close: async () => window.close(),
    };
  }

  /** The meter's own window, read without a round trip (the daemon keeps these by id). */
  openMeterWindow(key: StageKey): TrafficWindow {
    return this.stageOf(key).meter.openWindow();
  }

  async stats(key: StageKey): Promise<Record<string, RequestStats>> {
    return this.stages.get(keyOf(key))?.meter.snapshot() ?? {};
  }

  whenIdle(key: StageKey, instanceId: string, timeoutMs: number): Promise<boolean> {
    return this.stages.get(keyOf(key))?.meter.whenIdle(instanceId, timeoutMs) ?? Promise.resolve(true);
  }

  processId(): number {
    return process.pid;
  }

  metricsUrl(): string | undefined {
    return this.metricsEndpoint?.url();
  }

  /** In this process nothing outlives it: both modes close every stage. */
  async close(): Promise<void> {
    await Promise.all([...this.stages.values()].map((proxy) => proxy.close()));
    this.stages.clear();
    await this.metricsEndpoint?.close();
  }

  private async listenOnStablePort(proxy: StageProxy, port: number | undefined): Promise<boolean> {
    if (port === undefined) return false;
    try {
      await proxy.listen(port);
      return true;
    } catch (error) {
      if (isAddressTaken(error)) return false;
      throw error;
    }
  }

  private stageOf(key: StageKey): StageProxy {
    const proxy = this.stages.get(keyOf(key));
    if (proxy === undefined)
      throw new Error(`${key.service}/${key.stage} has no proxy: open the stage first`);
    return proxy;
  }

  private collectMetrics(): StageInstanceMetrics[] {
    const series: StageInstanceMetrics[] = [];
    for (const proxy of this.stages.values()) {
      const { service, stage } = proxy.key;
      const measured = new Set<string>();
      for (const metrics of proxy.meter.metrics()) {
        measured.add(metrics.instanceId);
        series.push({ service, stage, metrics });
      }
      // Zero series from the start, so Prometheus' increase() also counts an instance's first requests.
      for (const upstream of this.upstreams.values()) {
        if (upstream.service !== service || upstream.stage !== stage || measured.has(upstream.instanceId))
          continue;
        series.push({ service, stage, metrics: emptyInstanceMetrics(upstream.instanceId, upstream.version) });
      }
    }
    return series;
  }
}
