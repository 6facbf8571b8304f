/**
 * An app process, either spawned by this runtime or adopted from a previous control plane.
 * Spawned apps run detached in their own process group with their output going straight to
 * log files, so they outlive a control plane killed with SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { statSync } from "node:fs";
import { type LogPaths, openForAppend } from "./logs.js";
import { terminateProcessGroup } from "./process-group.js";
import { isInstanceProcessAlive } from "./recovery/process-table.js";

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface InstanceProcess {
  readonly pid: number;
  isAlive(): boolean;
  /** Known only for processes this runtime spawned */
  exitStatus(): ExitStatus | null;
  /** SIGTERM to the group, SIGKILL after graceMs; resolves once the process is gone. */
  terminate(graceMs: number): Promise<void>;
  /** Stops this control plane from waiting for the process, which keeps running. */
  release(): void;
}

export interface SpawnOptions {
  command: string[];
  cwd: string;
  env: Record<string, string>;
  logs: LogPaths;
}

export class SpawnedProcess implements InstanceProcess {
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | null = null;

  constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      });
    });
  }

  isAlive(): boolean {
    return this.status === null;
  }

  exitStatus(): ExitStatus | null {
    return this.status;
  }

  terminate(graceMs: number): Promise<void> {
    return terminateProcessGroup(this.pid, () => this.isAlive(), graceMs);
  }

  release(): void {
    this.child.unref();
  }
}

export class AdoptedProcess implements InstanceProcess {
  constructor(
    readonly pid: number,
    private readonly instanceId: string,
    private readonly controlPlaneId: string,
  ) {}

  /** Not our child, so no exit event: ask the kernel, and check the pid was not reused. */
  isAlive(): boolean {
    return isInstanceProcessAlive(this.pid, this.instanceId, this.controlPlaneId);
  }

  exitStatus(): ExitStatus | null {
    return null;
  }

  terminate(graceMs: number): Promise<void> {
    return terminateProcessGroup(this.pid, () => this.isAlive(), graceMs);
  }

  release(): void {
    // Nothing in this control plane waits on a process it did not spawn.
  }
}

export async function spawnInstanceProcess(options: SpawnOptions): Promise<SpawnedProcess> {
  const [executable, ...args] = options.command;
  if (executable === undefined) throw new Error("the launch command is empty");
  if (!isDirectory(options.cwd)) throw new Error(`working directory ${options.cwd} does not exist`);

  const logs = openForAppend(options.logs);
  let child: ChildProcess;
  try {
    child = spawn(executable, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", logs.stdout, logs.stderr],
    });
  } finally {
    // The child holds its own duplicates of the descriptors by now.
    logs.close();
  }
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  if (child.pid === undefined) {
    const error = await spawnError;
    throw new Error(`could not run ${executable}: ${error.message}`);
  }
  return new SpawnedProcess(child, child.pid);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
