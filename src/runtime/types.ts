/**
 * The runtime's public vocabulary. The engine and the store adapter depend on these shapes, so
 * they change only together with them.
 */

export interface StageKey {
  service: string;
  stage: string;
}

export interface InstanceLaunch {
  /** Directory the command runs in */
  cwd: string;
  /** argv, spawned without a shell */
  command: string[];
  /** Extra environment; the runtime adds PORT and the WAYBILL_* identity variables */
  env: Record<string, string>;
  /** e.g. "/healthz"; healthy means HTTP 2xx/3xx on 127.0.0.1:PORT */
  healthPath: string;
  healthTimeoutMs: number;
  /**
   * Mutual TLS with the stage proxy: a TLS terminator beside the app takes TLS on the instance's
   * `tlsPort` and forwards plain to the app's `port`, as a mesh sidecar does.
   */
  tls?: MeshTls;
  /**
   * Enforced through a cgroup of the instance's own where the host lets the runtime create one
   * (see cgroups.ts); elsewhere the instance runs without, and the runtime says so once.
   */
  limits?: InstanceLimits;
}

/** The files one side of a mutual TLS connection presents and trusts, all PEM */
export interface MeshTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  /** The SPIFFE trust domain whose identities are accepted from the other side */
  trustDomain: string;
}

export interface InstanceLimits {
  cpuMillicores: number;
  memoryBytes: number;
}

export type InstanceState = "starting" | "running" | "stopped";

export interface InstanceRecord extends StageKey {
  /** Chosen by the caller and stable, e.g. `${runId}-candidate` */
  id: string;
  runId: string;
  version: string;
  digest: string;
  port: number;
  /** Where the instance's TLS terminator listens, when its launch has `tls` */
  tlsPort?: number;
  /** The process (and process group) id; null between persisting the record and spawning */
  pid: number | null;
  state: InstanceState;
  restarts: number;
  launch: InstanceLaunch;
}

export type InstanceIdentity = Omit<InstanceRecord, "port" | "tlsPort" | "pid" | "state" | "restarts">;

export interface Routes {
  stable: string | null;
  candidate: string | null;
  /** 0–100: the share of unpinned requests that go to the candidate */
  candidateWeight: number;
}

export interface ProxyRecord extends StageKey {
  port: number;
  routes: Routes;
  /** The proxy's client side of mutual TLS with the stage's instances; plain HTTP without */
  tls?: MeshTls;
}

/** Persistence port; the control plane implements it on this machine's own database (never a shared one). */
export interface RuntimeStateStore {
  listInstances(): Promise<InstanceRecord[]>;
  putInstance(record: InstanceRecord): Promise<void>;
  deleteInstance(id: string): Promise<void>;
  listProxies(): Promise<ProxyRecord[]>;
  putProxy(record: ProxyRecord): Promise<void>;
}

export type RuntimeEvent =
  | { type: "instance.started" | "instance.adopted" | "instance.stopped"; instance: InstanceRecord }
  | { type: "instance.crashed"; instance: InstanceRecord; exitCode: number | null; signal: string | null }
  | { type: "instance.restarted"; instance: InstanceRecord; attempt: number; backoffMs: number }
  | { type: "instance.tampered"; instance: InstanceRecord; reason: string }
  | { type: "orphan.killed"; pid: number; instanceId: string };

export interface RequestStats {
  requests: number;
  errors: number;
  inFlight: number;
}

/** Latencies in milliseconds */
export interface LatencyPercentiles {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** What the stage proxy saw of one instance's requests during a traffic window. */
export interface InstanceTraffic {
  instanceId: string;
  version: string;
  /** Requests that finished while the window was open */
  requests: number;
  /** Answered 5xx, or no complete answer (upstream failure, or the client left first) */
  errors: number;
  /** From the proxy having the request's head to the end of the response; over all requests */
  latency: LatencyPercentiles;
  /** The latest latencies (at most MAX_LATENCY_SAMPLES), oldest first */
  latencySamplesMs: number[];
  /** Error % of each whole second since the window opened that saw requests, in order */
  errorRatePerSecond: number[];
}

export interface TrafficWindow {
  /** Keyed by instance id; an instance that finished no request in the window is absent */
  read(): Record<string, InstanceTraffic>;
  /** Stops recording; read() still answers for the time the window was open */
  close(): void;
}

/** Over a sampler's window, or since the processes started for `processMetrics()` */
export interface ProcessMetrics {
  /** CPU time (user + system) the instance's process group used */
  cpuSeconds: number;
  /** Peak resident memory of the process group, summed over its processes */
  memoryMaxMib: number;
  /** % of the cgroup's CPU periods that were throttled; null where the cgroup does not tell */
  cpuThrottledPct: number | null;
  /** Per whole second of a sampler's window; absent for `processMetrics()` */
  perSecond?: UsagePerSecond;
}

export interface UsagePerSecond {
  cpuMillicores: number[];
  memoryMib: number[];
}

/** A span of wall-clock time, `Date.now()` milliseconds */
export interface TimeWindow {
  fromMs: number;
  toMs: number;
}

export interface ProcessSampler {
  /**
   * Stops sampling. `perSecond` covers `within` when given (the seconds of a load, say), counted
   * from its start, so seconds spent waiting before or after it do not dilute the figures.
   */
  stop(within?: TimeWindow): Promise<ProcessMetrics>;
}

export function stageLabel(key: StageKey): string {
  return `${key.service}/${key.stage}`;
}
