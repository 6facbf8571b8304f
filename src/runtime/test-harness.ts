/**
 * Shared setup for the runtime's tests (imported only by *.test.ts files): a fresh state
 * directory, store and control-plane id per test, so that tests running side by side never
 * see, adopt or kill each other's processes.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { type Agent, type IncomingHttpHeaders, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LocalRuntime, type LocalRuntimeOptions } from "./local-runtime.js";
import { InMemoryRuntimeStateStore } from "./memory-store.js";
import { signalProcessGroup } from "./process-group.js";
import { type MarkedProcess, listMarkedProcesses, processGroupOf } from "./recovery/process-table.js";
import { waitFor } from "./timing.js";
import type { InstanceIdentity, RuntimeEvent, StageKey } from "./types.js";

export const STAGE: StageKey = { service: "shop", stage: "staging" };

export type EventOfType<T extends RuntimeEvent["type"]> = RuntimeEvent & { type: T };

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export class RuntimeHarness {
  readonly controlPlaneId = `test-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly store = new InMemoryRuntimeStateStore();
  readonly events: RuntimeEvent[] = [];
  readonly errors: unknown[] = [];
  /** A window of its own for each test, below the OS's ephemeral ports */
  readonly portRange: [number, number];
  private readonly runtimes: LocalRuntime[] = [];

  private constructor(
    readonly stateDir: string,
    private readonly appScript: string,
  ) {
    const low = 20000 + Math.floor(Math.random() * 200) * 50;
    this.portRange = [low, low + 49];
  }

  static async create(appScript: string): Promise<RuntimeHarness> {
    return new RuntimeHarness(await mkdtemp(join(tmpdir(), "waybill-runtime-")), appScript);
  }

  /** A runtime on this harness's store, state directory and control-plane id (not started). */
  runtime(overrides: Partial<LocalRuntimeOptions> = {}): LocalRuntime {
    const runtime = new LocalRuntime({
      stateDir: this.stateDir,
      store: this.store,
      controlPlaneId: this.controlPlaneId,
      onEvent: (event) => this.events.push(event),
      onError: (error) => this.errors.push(error),
      portRange: this.portRange,
      ...overrides,
    });
    this.runtimes.push(runtime);
    return runtime;
  }

  identity(id: string, appEnv: Record<string, string> = {}, healthTimeoutMs = 5000): InstanceIdentity {
    return {
      ...STAGE,
      id,
      runId: `run-${id}`,
      version: `v-${id}`,
      digest: `sha256:${id}`,
      launch: {
        cwd: dirname(this.appScript),
        command: [process.execPath, this.appScript],
        env: appEnv,
        healthPath: "/healthz",
        healthTimeoutMs,
      },
    };
  }

  /** The first event (in order) that matches, waiting at most timeoutMs for it. */
  async event<T extends RuntimeEvent["type"]>(
    type: T,
    matches: (event: EventOfType<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<EventOfType<T>> {
    const find = (): EventOfType<T> | undefined =>
      this.events.find(
        (event): event is EventOfType<T> => event.type === type && matches(event as EventOfType<T>),
      );
    await waitFor(() => find() !== undefined, timeoutMs);
    const found = find();
    if (found === undefined) {
      throw new Error(
        `no ${type} event within ${timeoutMs}ms; saw ${this.events.map((e) => e.type).join(", ")}`,
      );
    }
    return found;
  }

  /** Processes carrying this harness's control-plane id, i.e. ones the runtime left running. */
  leftoverProcesses(): MarkedProcess[] {
    return listMarkedProcesses(this.controlPlaneId);
  }

  /**
   * Closes every runtime, stopping instances, and returns the processes that survived that;
   * they are killed so a failed test does not leak them into the next.
   */
  async finish(): Promise<MarkedProcess[]> {
    for (const runtime of this.runtimes) await runtime.close({ stopInstances: true }).catch(() => undefined);
    await waitFor(() => this.leftoverProcesses().length === 0, 2000);
    const leftovers = this.leftoverProcesses();
    for (const { pgid } of leftovers) signalProcessGroup(pgid, "SIGKILL");
    await waitFor(() => this.leftoverProcesses().length === 0, 2000);
    await rm(this.stateDir, { recursive: true, force: true });
    return leftovers;
  }
}

export function httpRequest(
  port: number,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    agent?: Agent;
    body?: string;
    timeoutMs?: number;
  } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: options.headers,
        agent: options.agent ?? false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer from ${path} within the timeout`)));
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

/** Alive and not a zombie */
export function isPidAlive(pid: number): boolean {
  return processGroupOf(pid) !== null;
}
