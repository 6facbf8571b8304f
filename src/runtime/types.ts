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
}

export type InstanceState = "starting" | "running" | "stopped";

export interface InstanceRecord extends StageKey {
  /** Chosen by the caller and stable, e.g. `${runId}-candidate` */
  id: string;
  runId: string;
  version: string;
  digest: string;
  port: number;
  /** The process (and process group) id; null between persisting the record and spawning */
  pid: number | null;
  state: InstanceState;
  restarts: number;
  launch: InstanceLaunch;
}

export type InstanceIdentity = Omit<InstanceRecord, "port" | "pid" | "state" | "restarts">;

export interface Routes {
  stable: string | null;
  candidate: string | null;
  /** 0–100: the share of unpinned requests that go to the candidate */
  candidateWeight: number;
}

export interface ProxyRecord extends StageKey {
  port: number;
  routes: Routes;
}

/** Persistence port; the control plane implements it on its database. */
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
  | { type: "orphan.killed"; pid: number; instanceId: string };

export interface RequestStats {
  requests: number;
  errors: number;
  inFlight: number;
}

export function stageLabel(key: StageKey): string {
  return `${key.service}/${key.stage}`;
}
