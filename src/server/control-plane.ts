/**
 * `waybill serve`: assembles the store, the local runtime, the engine and the HTTP API in
 * one process, and publishes where it listens in `<state>/control-plane.json` for the CLI.
 * Starting it again after a crash resumes every run and adopts the running app processes.
 */
import { targetKindOf, targetNamePattern } from "../spec/target-kinds.js";
import { EventIntake } from "../integrations/intake.js";
import { WebhookDispatcher, dispatcherSettingsFromEnv } from "../integrations/dispatcher.js";
import { MeshCertificates, meshSettingsFromEnv } from "../targets/mesh-certificates.js";
import { MeshCa } from "../security/ca.js";
import { trustDomainFor } from "../security/identity.js";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { listenOn, portOfUrl } from "../runtime/ports.js";
import { ContentStore } from "../artifact/content-store.js";
import { artifactDigest } from "../artifact/digest.js";
import { appRootFor, resolveAppUser } from "../runtime/app-user.js";
import type { Store } from "../store/store.js";
import { protectStateDir, stateEnvSealer } from "./state-protection.js";
import { Deliveries } from "../engine/deliveries.js";
import { Engine } from "../engine/engine.js";
import { StagePolicies } from "../engine/policies.js";
import { Recall } from "../engine/recall.js";
import { EvidenceService } from "../evidence/evidence-service.js";
import { builtinTasks } from "../engine/tasks/index.js";
import { UserError, errorMessage } from "../errors.js";
import { DEFAULT_PROXY_PORT_RANGE, LocalRuntime } from "../runtime/local-runtime.js";
import { remoteDataPlane } from "../runtime/remote-data-plane.js";
import type { RuntimeEvent } from "../runtime/types.js";
import { newEvent, type NewEvent } from "../store/events.js";
import { openStore } from "../store/open-store.js";
import { KubeTarget } from "../targets/kube.js";
import { LocalTarget } from "../targets/local.js";
import type { Target, TargetResolver } from "../targets/target.js";
import { buildApp } from "./app.js";
import { TokenRegistry, adminToken } from "./auth.js";
import { processExists } from "../exec/process-exists.js";

export interface ControlPlaneInfo {
  pid: number;
  port: number;
  url: string;
  /** The stage proxies' Prometheus endpoint (no token: it holds request counts and latencies only) */
  metricsUrl: string | null;
  startedAt: string;
}

export function controlPlaneInfoFile(stateDir: string): string {
  return join(stateDir, "control-plane.json");
}

export interface RunningControlPlane {
  info: ControlPlaneInfo;
  /** Resolves when the control plane has stopped */
  closed: Promise<void>;
  close(stopApps: boolean): Promise<void>;
}

export interface ControlPlaneOptions {
  stateDir: string;
  port: number;
  /** Where stage proxies get their stable ports */
  proxyPorts?: [number, number];
  /** Where the proxies' Prometheus series are served; 0 picks a free port */
  metricsPort?: number;
  /** A PostgreSQL URL for the shared store; without it, the embedded SQLite in the state dir */
  databaseUrl?: string;
  /** How long a run's lease lasts unless renewed (default 15 s): a dead replica's runs wait this long */
  leaseMs?: number;
  /** How often a replica on a shared database looks for runs others queued or left (default 1 s) */
  rescanMs?: number;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const { stateDir } = options;
  // Read before anything starts, so a bad value stops `serve` with nothing half done.
  const webhookSettings = dispatcherSettingsFromEnv(process.env);
  const meshSettings = meshSettingsFromEnv(process.env);
  mkdirSync(stateDir, { recursive: true });
  claimStateDir(stateDir);
  adminToken(stateDir);
  const opened = await openStore(
    { stateDir, databaseUrl: options.databaseUrl },
    { sealer: stateEnvSealer(stateDir) },
  );
  const { store, machine } = opened;
  const tokenStore = store.tokenStore();
  const tokens = TokenRegistry.load(stateDir, tokenStore);
  protectStateDir(stateDir);
  const appUser = resolveAppUser(process.env.WAYBILL_APP_USER);
  if (appUser === undefined) {
    process.stderr.write(
      "waybill: the control plane runs as a normal user, so apps run as that user too: file modes keep " +
        "them from its secrets only as far as that user's own programs are kept (run as root for a user per app)\n",
    );
  }
  const appRoot = appRootFor(stateDir, controlPlaneId(stateDir), appUser);
  const remembered = rememberedPorts(stateDir);
  const artifacts = new ContentStore(join(appRoot, "artifacts"));

  const reportRuntimeError = (error: unknown) =>
    process.stderr.write(`waybill runtime: ${errorMessage(error)}\n`);
  const runtime = new LocalRuntime({
    stateDir,
    store: machine,
    controlPlaneId: controlPlaneId(stateDir),
    ...(options.proxyPorts === undefined ? {} : { portRange: options.proxyPorts }),
    dataPlane: remoteDataPlane({
      stateDir,
      portRange: options.proxyPorts ?? DEFAULT_PROXY_PORT_RANGE,
      metricsPort: options.metricsPort || remembered.metrics || 0,
      onError: reportRuntimeError,
    }),
    ...(appUser === undefined ? {} : { appUser }),
    verifyArtifact: (record) => artifactProblem(store, record.service, record.digest),
    onError: reportRuntimeError,
    onEvent: (event) => {
      store.append([runtimeEvent(event)]).catch((error: unknown) => {
        process.stderr.write(`waybill: could not record ${event.type}: ${errorMessage(error)}\n`);
      });
    },
  });
  await runtime.start();

  const mesh = new MeshCertificates(
    () => MeshCa.open(join(stateDir, "keys", "mesh"), trustDomainFor(controlPlaneId(stateDir)), meshSettings),
    reportRuntimeError,
    meshSettings,
  );
  const local = new LocalTarget(runtime, store, appRoot, mesh);
  // Instances that outlived the previous control plane keep their certificates renewed.
  await local.recoverMesh().catch(reportRuntimeError);
  const clusters = new Map<string, KubeTarget>();
  const targets: TargetResolver = {
    resolve(name: string): Target {
      const kind = targetNamePattern.test(name) ? targetKindOf(name).kind : undefined;
      if (kind === "local") return local;
      if (kind === "kube") {
        const cluster =
          clusters.get(name) ??
          new KubeTarget(name, { artifacts: store, gitopsCheckouts: join(stateDir, "gitops") });
        clusters.set(name, cluster);
        return cluster;
      }
      throw new UserError(`target "${name}" is not available on this control plane`);
    },
  };
  const evidence = EvidenceService.open(stateDir);
  // On PostgreSQL other replicas may share the work: look for theirs on a timer. The embedded
  // store is this process's alone, so a lease in it was left by a predecessor that died.
  const shared = store.dialect === "postgres";
  const engine = new Engine({
    store,
    evidence,
    tasks: builtinTasks(),
    targets,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(shared ? { rescanMs: options.rescanMs ?? 1000 } : { soleReplica: true }),
  });
  if (shared) process.stderr.write(`waybill: replica ${engine.replica.replica}\n`);
  const policies = new StagePolicies(store);
  const deliveries = new Deliveries(
    store,
    engine,
    artifacts,
    evidence,
    join(stateDir, "advisories"),
    policies,
  );
  const integrations = store.integrationStore();
  const logLine = (line: string) => process.stderr.write(`waybill: ${line}\n`);
  const intake = new EventIntake({ integrations, store, deliveries, engine, log: logLine });
  const dispatcher = new WebhookDispatcher({
    store,
    integrations,
    intake,
    log: logLine,
    settings: webhookSettings,
  });

  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let closing: Promise<void> | undefined;
  const close = (stopApps: boolean): Promise<void> => {
    closing ??= (async () => {
      await app.close();
      await engine.stop();
      await dispatcher.stop();
      await runtime.close({ stopInstances: stopApps, keepRecords: true });
      mesh.close();
      await opened.close();
      rmSync(controlPlaneInfoFile(stateDir), { force: true });
      rmSync(lockFile(stateDir), { force: true });
      resolveClosed();
    })();
    return closing;
  };

  const { app } = await buildApp({
    store,
    evidence,
    recall: new Recall(store, deliveries, join(stateDir, "advisories")),
    engine,
    deliveries,
    policies,
    advisoriesDir: join(stateDir, "advisories"),
    tokens,
    tokenStore,
    intake,
    integrations,
    stageUrl: (service, stage) => local.url(service, stage),
    readLogs: async (service, stage, stream, tailBytes) => {
      const instanceId = liveInstance(runtime, service, stage);
      if (instanceId === undefined) return "";
      return tail(runtime.logFiles(instanceId)[stream], tailBytes);
    },
    shutdown: (stopApps) => {
      void close(stopApps);
    },
  });
  await listenOnRememberedPort(app, options.port, remembered.api);
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const info: ControlPlaneInfo = {
    pid: process.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: runtime.metricsUrl() ?? null,
    startedAt: new Date().toISOString(),
  };
  writeAtomically(controlPlaneInfoFile(stateDir), JSON.stringify(info, null, 2));
  rememberPorts(stateDir, { api: port, metrics: portOfUrl(info.metricsUrl) });
  await engine.start();
  dispatcher.start();
  return { info, closed, close };
}

interface RememberedPorts {
  api?: number;
  metrics?: number;
}

function portsFile(stateDir: string): string {
  return join(stateDir, "ports.json");
}

/** The ports of the last run, so that URLs people saved (the API, /metrics) stay true. */
function rememberedPorts(stateDir: string): RememberedPorts {
  try {
    const saved = JSON.parse(readFileSync(portsFile(stateDir), "utf8")) as Record<string, unknown>;
    const port = (value: unknown) =>
      typeof value === "number" && Number.isInteger(value) && value > 0 && value < 65536 ? value : undefined;
    const api = port(saved.api);
    const metrics = port(saved.metrics);
    return { ...(api === undefined ? {} : { api }), ...(metrics === undefined ? {} : { metrics }) };
  } catch {
    return {};
  }
}

function rememberPorts(stateDir: string, ports: RememberedPorts): void {
  writeAtomically(portsFile(stateDir), JSON.stringify(ports));
}

/** Port 0 ("any") takes the remembered port when it is free, and any port when it is not. */
async function listenOnRememberedPort(
  app: { listen(options: { host: string; port: number }): Promise<string> },
  asked: number,
  remembered: number | undefined,
): Promise<void> {
  const port = asked === 0 && remembered !== undefined && (await isFree(remembered)) ? remembered : asked;
  await app.listen({ host: "127.0.0.1", port });
}

async function isFree(port: number): Promise<boolean> {
  const probe = createServer();
  try {
    await listenOn(probe, port);
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}

/** Why an instance must not start from its stored artifact, if it must not: its files changed. */
async function artifactProblem(store: Store, service: string, digest: string): Promise<string | undefined> {
  const artifact = await store.getArtifact(service, digest);
  if (artifact === undefined) return `no artifact ${digest} is recorded for ${service}`;
  const found = await artifactDigest(artifact.path).catch(
    (error: unknown) => `unreadable (${errorMessage(error)})`,
  );
  if (found === digest) return undefined;
  return `the stored artifact at ${artifact.path} no longer matches ${digest} (it is now ${found}): it was altered, so it is not started`;
}

function liveInstance(runtime: LocalRuntime, service: string, stage: string): string | undefined {
  const routes = runtime.getProxy({ service, stage })?.routes;
  if (routes?.stable) return routes.stable;
  if (routes?.candidate) return routes.candidate;
  return runtime.listInstances().find((instance) => instance.service === service && instance.stage === stage)
    ?.id;
}

async function tail(path: string, bytes: number): Promise<string> {
  if (!existsSync(path)) return "";
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString("utf8");
  } finally {
    await handle.close();
  }
}

function runtimeEvent(event: RuntimeEvent): NewEvent {
  const subject = `instances/${event.type === "orphan.killed" ? event.instanceId : event.instance.id}`;
  switch (event.type) {
    case "instance.started":
    case "instance.adopted":
      return newEvent(event.type, subject, {
        instanceId: event.instance.id,
        pid: event.instance.pid,
        port: event.instance.port,
      });
    case "instance.stopped":
      return newEvent(event.type, subject, { instanceId: event.instance.id });
    case "instance.crashed":
      return newEvent(event.type, subject, {
        instanceId: event.instance.id,
        exitCode: event.exitCode,
        signal: event.signal,
      });
    case "instance.restarted":
      return newEvent(event.type, subject, {
        instanceId: event.instance.id,
        attempt: event.attempt,
        backoffMs: event.backoffMs,
      });
    case "orphan.killed":
      return newEvent(event.type, subject, { instanceId: event.instanceId, pid: event.pid });
    case "instance.tampered":
      return newEvent(event.type, subject, { instanceId: event.instance.id, reason: event.reason });
  }
}

/** A stable id for this state dir; it marks the app processes this control plane owns. */
function controlPlaneId(stateDir: string): string {
  const file = join(stateDir, "id");
  if (!existsSync(file)) writeAtomically(file, randomUUID());
  return readFileSync(file, "utf8").trim();
}

function lockFile(stateDir: string): string {
  return join(stateDir, "control-plane.pid");
}

/** Refuses to start a second control plane on the same state dir while the first lives. */
function claimStateDir(stateDir: string): void {
  const file = lockFile(stateDir);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid !== process.pid && processExists(pid)) {
      throw new UserError(`a control plane (pid ${pid}) is already running on ${stateDir}`);
    }
  }
  writeAtomically(file, String(process.pid));
}

function writeAtomically(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, file);
}
