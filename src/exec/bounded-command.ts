/**
 * Runs one of the user's programs (an external load tool, an SLI command) without a shell and
 * within bounds: in its own process group, so stopping it also stops whatever it started; for
 * at most `timeoutMs`; with at most `maxOutputBytes` of stdout; keeping the end of stderr for
 * the message when it fails. Callers word the failure for their own context.
 */
import { spawn } from "node:child_process";

export type CommandFailure =
  | { kind: "spawn"; message: string }
  | { kind: "timeout"; timeoutMs: number }
  | { kind: "output"; maxOutputBytes: number }
  | { kind: "aborted" }
  | { kind: "exit"; code: number | null; signal: NodeJS.Signals | null };

export class BoundedCommandError extends Error {
  constructor(
    readonly failure: CommandFailure,
    readonly stderrTail: string,
  ) {
    super(`command failed: ${failure.kind}`);
    this.name = "BoundedCommandError";
  }
}

export interface BoundedCommandOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
}

const STDERR_TAIL_BYTES = 4096;
/** Between asking the process group to stop and killing it */
const KILL_GRACE_MS = 2000;

/** Resolves with stdout when the program exits 0; rejects with a BoundedCommandError otherwise. */
export function runBoundedCommand(argv: readonly string[], options: BoundedCommandOptions): Promise<string> {
  const [program, ...args] = argv;
  if (program === undefined || program === "") {
    return Promise.reject(new BoundedCommandError({ kind: "spawn", message: "the command is empty" }, ""));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = "";
    let stopped: CommandFailure | null = null;
    let spawnError: Error | null = null;
    let killTimer: NodeJS.Timeout | undefined;

    const signalGroup = (name: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, name);
      } catch {
        // Already gone.
      }
    };
    const stop = (failure: CommandFailure): void => {
      if (stopped !== null) return;
      stopped = failure;
      signalGroup("SIGTERM");
      killTimer = setTimeout(() => {
        signalGroup("SIGKILL");
        // A descendant that left the group may hold the pipes open; stop waiting for it.
        child.stdout.destroy();
        child.stderr.destroy();
      }, KILL_GRACE_MS);
    };
    const timeoutTimer = setTimeout(
      () => stop({ kind: "timeout", timeoutMs: options.timeoutMs }),
      options.timeoutMs,
    );
    const onAbort = (): void => stop({ kind: "aborted" });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > options.maxOutputBytes)
        stop({ kind: "output", maxOutputBytes: options.maxOutputBytes });
      else stdout.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    child.on("error", (error) => {
      spawnError = error;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener("abort", onAbort);
      const tail = stderrTail.trim();
      if (spawnError !== null)
        reject(new BoundedCommandError({ kind: "spawn", message: spawnError.message }, tail));
      else if (stopped !== null) reject(new BoundedCommandError(stopped, tail));
      else if (code !== 0) reject(new BoundedCommandError({ kind: "exit", code, signal }, tail));
      else resolve(Buffer.concat(stdout).toString("utf8"));
    });
  });
}

/** "exited with code 3", "was killed by SIGKILL", …; the timeout in the caller's own units. */
export function describeFailure(failure: CommandFailure, timeout: (ms: number) => string): string {
  switch (failure.kind) {
    case "spawn":
      return `could not start: ${failure.message}`;
    case "timeout":
      return `timed out after ${timeout(failure.timeoutMs)}`;
    case "output":
      return `printed more than ${failure.maxOutputBytes} bytes`;
    case "aborted":
      return "was aborted";
    case "exit":
      return failure.signal === null ? `exited with code ${failure.code}` : `was killed by ${failure.signal}`;
  }
}
