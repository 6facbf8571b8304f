/**
 * The control plane's side of a data plane in a process of its own (data-plane-daemon.ts). It
 * finds the running one or starts it, detached, so it outlives this process; it checks every
 * second that it still answers, and starts it again with the runtime's whole state when it does
 * not (the two supervise each other). A call that finds it gone waits for that and is retried
 * once; every call is idempotent.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  DataPlane,
  DataPlaneFactory,
  OpenStageOptions,
  StageTraffic,
  UpstreamEntry,
} from "./data-plane.js";
import {
  type DataPlaneInfo,
  type DataPlanePath,
  type DataPlaneRequest,
  dataPlaneSocket,
} from "./data-plane-daemon.js";
import { portOfUrl } from "./ports.js";
import { isDataPlaneProcess, stopDataPlaneProcess } from "./stop-all.js";
import type { InstanceTraffic, ProxyRecord, RequestStats, Routes, StageKey } from "./types.js";

const WATCH_INTERVAL_MS = 1000;
/** A live data plane is only replaced after this many missed checks: a busy machine is slow, not dead. */
const MISSED_CHECKS_BEFORE_RESTART = 5;
const HELLO_TIMEOUT_MS = 2000;
const START_TIMEOUT_MS = 15_000;
const DAEMON_ENTRY = fileURLToPath(new URL("./data-plane-main.js", import.meta.url));

export interface RemoteDataPlaneOptions {
  stateDir: string;
  portRange: [number, number];
  /** 0 picks a free port; the port found is kept across restarts of the data plane */
  metricsPort: number;
  onError: (error: unknown) => void;
}

/** Thrown when the data plane's process cannot be reached at all */
class Unreachable extends Error {}

export function remoteDataPlane(options: RemoteDataPlaneOptions): DataPlaneFactory {
  return async ({ resync }) => {
    const plane = new RemoteDataPlane(options, resync);
    await plane.connect();
    return plane;
  };
}

class RemoteDataPlane implements DataPlane {
  private readonly socket: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });
  private info: DataPlaneInfo | null = null;
  private reviving: Promise<void> | null = null;
  private watch: NodeJS.Timeout | null = null;
  private closed = false;
  private missedChecks = 0;

  constructor(
    private readonly options: RemoteDataPlaneOptions,
    private readonly resync: () => Promise<void>,
  ) {
    this.socket = dataPlaneSocket(options.stateDir);
  }

  /** Uses the data plane that answers, else starts one; the runtime pushes its state next. */
  async connect(): Promise<void> {
    this.info = await this.hello().catch(() => null);
    if (this.info === null) this.info = await this.startDaemon();
    this.watch = setInterval(() => void this.checkAlive(), WATCH_INTERVAL_MS);
    this.watch.unref();
  }

  openStage(key: StageKey, routes: Routes, options: OpenStageOptions): Promise<ProxyRecord> {
    return this.call("/open", {
      key,
      routes,
      reserved: [...options.reserved],
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    }) as Promise<ProxyRecord>;
  }

  async setRoutes(key: StageKey, routes: Routes): Promise<void> {
    await this.call("/routes", { key, routes });
  }

  async retainStages(keys: readonly StageKey[]): Promise<void> {
    await this.call("/retain", { keys: [...keys] });
  }

  async putUpstreams(entries: readonly UpstreamEntry[], replaceAll: boolean): Promise<void> {
    await this.call("/upstreams", { entries: [...entries], replaceAll });
  }

  async removeUpstream(instanceId: string): Promise<void> {
    await this.call("/upstreams/remove", { instanceId });
  }

  async openWindow(key: StageKey): Promise<StageTraffic> {
    const { id } = (await this.call("/windows/open", { key })) as { id: string };
    return {
      read: () => this.call("/windows/read", { id }) as Promise<Record<string, InstanceTraffic>>,
      close: async () => {
        await this.call("/windows/close", { id });
      },
    };
  }

  stats(key: StageKey): Promise<Record<string, RequestStats>> {
    return this.call("/stats", { key }) as Promise<Record<string, RequestStats>>;
  }

  async whenIdle(key: StageKey, instanceId: string, timeoutMs: number): Promise<boolean> {
    const { idle } = (await this.call("/idle", { key, instanceId, timeoutMs })) as { idle: boolean };
    return idle;
  }

  processId(): number | undefined {
    return this.info?.pid;
  }

  metricsUrl(): string | undefined {
    return this.info?.metricsUrl ?? undefined;
  }

  async close(mode: "stop" | "leave"): Promise<void> {
    this.closed = true;
    if (this.watch !== null) clearInterval(this.watch);
    await this.reviving?.catch(() => undefined);
    if (mode === "stop") {
      await this.send("/shutdown", {}).catch(() => undefined);
      await this.waitUntilGone(this.info?.pid);
    }
    this.agent.destroy();
  }

  private async call<P extends DataPlanePath>(path: P, body: DataPlaneRequest<P>): Promise<unknown> {
    try {
      return await this.send(path, body);
    } catch (error) {
      if (!(error instanceof Unreachable) || this.closed) throw error;
      await this.revive();
      return this.send(path, body);
    }
  }

  private async checkAlive(): Promise<void> {
    if (this.closed || this.reviving !== null) return;
    try {
      await this.hello();
      this.missedChecks = 0;
    } catch {
      this.missedChecks += 1;
      const pid = this.info?.pid;
      const alive = pid !== undefined && isDataPlaneProcess(pid);
      if (alive && this.missedChecks < MISSED_CHECKS_BEFORE_RESTART) return;
      this.missedChecks = 0;
      await this.revive().catch(this.options.onError);
    }
  }

  /** Starts the data plane again and gives it the runtime's state; one revival at a time. */
  private revive(): Promise<void> {
    this.reviving ??= (async () => {
      try {
        this.options.onError(new Error("the data plane did not answer: starting it again"));
        this.info = await this.startDaemon();
        await this.resync();
      } finally {
        this.reviving = null;
      }
    })();
    return this.reviving;
  }

  private async startDaemon(): Promise<DataPlaneInfo> {
    // One alive but not answering (hung) is stopped before another starts.
    await stopDataPlaneProcess(this.options.stateDir, 1000);
    const logs = join(this.options.stateDir, "logs");
    mkdirSync(logs, { recursive: true });
    const log = openSync(join(logs, "data-plane.log"), "a");
    const [low, high] = this.options.portRange;
    const metricsPort = portOfUrl(this.info?.metricsUrl) ?? this.options.metricsPort;
    const args = [
      DAEMON_ENTRY,
      "--state",
      this.options.stateDir,
      "--ports",
      `${low}-${high}`,
      "--metrics-port",
      String(metricsPort),
    ];
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ["ignore", log, log],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    closeSync(log);
    let exited: number | null | undefined;
    child.once("exit", (code) => (exited = code));
    child.unref();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && exited === undefined) {
      const info = await this.hello().catch(() => null);
      if (info !== null && info.pid === child.pid) return info;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(
      `could not start the data plane (${exited === undefined ? "it did not answer in time" : `exit code ${exited}`}); see ${join(logs, "data-plane.log")}`,
    );
  }

  private async waitUntilGone(pid: number | undefined): Promise<void> {
    const deadline = Date.now() + 5000;
    while (pid !== undefined && isDataPlaneProcess(pid) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private hello(): Promise<DataPlaneInfo> {
    return this.send("/hello", {}, HELLO_TIMEOUT_MS) as Promise<DataPlaneInfo>;
  }

  private send(path: DataPlanePath, body: unknown, timeoutMs?: number): Promise<unknown> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          socketPath: this.socket,
          path,
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", (error) => reject(new Unreachable(error.message)));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const parsed: unknown = text === "" ? null : JSON.parse(text);
            if (response.statusCode === 200) resolve(parsed);
            else reject(new Error(`data plane: ${(parsed as { error?: string } | null)?.error ?? text}`));
          });
        },
      );
      outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      outgoing.on("error", (error) =>
        reject(new Unreachable(`the data plane is unreachable: ${error.message}`)),
      );
      outgoing.end(payload);
    });
  }
}
