/**
 * Runs an external load tool (k6, wrk, JMeter, through a small wrapper) in place of the
 * built-in generator. The command is an argv array run without a shell; on success it must
 * print exactly one JSON object of SLI values, `{"latency_p99": 12.5, "error_rate": 0}`, on
 * stdout (logs belong on stderr). Its output and its run time are bounded.
 */
import { spawn } from "node:child_process";
import { UserError } from "../errors.js";
import type { SliValues } from "./slis.js";

export interface ExternalLoadOptions {
  timeoutMs: number;
  cwd?: string;
  /** Added to the inherited environment, e.g. the target URL */
  env?: Record<string, string>;
  /** Stdout beyond this ends the command as failed. Default 1 MiB. */
  maxOutputBytes?: number;
}

const defaultMaxOutputBytes = 1024 * 1024;
const stderrTailBytes = 4096;
/** Time between asking the command to stop and forcing it */
const killGraceMs = 2000;

export function runExternalLoad(
  command: readonly string[],
  options: ExternalLoadOptions,
): Promise<SliValues> {
  const [program, ...args] = command;
  if (program === undefined || program === "") {
    return Promise.reject(new UserError("external load command is empty"));
  }
  const shown = command.join(" ");
  const maxOutputBytes = options.maxOutputBytes ?? defaultMaxOutputBytes;

  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also stops whatever a wrapper script started.
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = "";
    let stopReason: string | null = null;
    let spawnError: Error | null = null;
    let forceTimer: NodeJS.Timeout | undefined;

    const stop = (reason: string) => {
      if (stopReason !== null) return;
      stopReason = reason;
      signalGroup("SIGTERM");
      forceTimer = setTimeout(() => {
        signalGroup("SIGKILL");
        // A descendant that left the group could hold the pipes open; stop waiting for it.
        child.stdout.destroy();
        child.stderr.destroy();
      }, killGraceMs);
    };
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const timeoutTimer = setTimeout(() => stop(`timed out after ${options.timeoutMs} ms`), options.timeoutMs);

    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxOutputBytes) stop(`printed more than ${maxOutputBytes} bytes`);
      else stdout.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString("utf8")).slice(-stderrTailBytes);
    });
    child.on("error", (error) => {
      spawnError = error;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timeoutTimer);
      clearTimeout(forceTimer);
      const stderrNote = stderrTail.trim() === "" ? "" : `\n${stderrTail.trim()}`;
      if (spawnError !== null) {
        reject(new UserError(`external load command ${shown} could not start: ${spawnError.message}`));
      } else if (stopReason !== null) {
        reject(new UserError(`external load command ${shown} ${stopReason}${stderrNote}`));
      } else if (code !== 0) {
        const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
        reject(new UserError(`external load command ${shown} ${how}${stderrNote}`));
      } else {
        try {
          resolve(parseSliJson(Buffer.concat(stdout).toString("utf8"), shown));
        } catch (error) {
          reject(error);
        }
      }
    });
  });
}

/** Parses `{"sli_name": number, …}`; `source` names where the text came from, for the message */
export function parseSliJson(text: string, source: string): SliValues {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const excerpt = text.trim().slice(0, 200);
    throw new UserError(
      `${source} did not print a JSON object of SLI values on stdout, got ${JSON.stringify(excerpt)}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UserError(
      `${source} printed JSON that is not an object of SLI values: ${JSON.stringify(parsed)}`,
    );
  }
  const entries = Object.entries(parsed);
  if (entries.length === 0) throw new UserError(`${source} printed no SLI values`);
  const slis: SliValues = {};
  for (const [name, value] of entries) {
    if (name.trim() === "") throw new UserError(`${source} printed an SLI with an empty name`);
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new UserError(
        `${source}: SLI ${JSON.stringify(name)} is ${JSON.stringify(value)}, expected a number`,
      );
    }
    slis[name] = value;
  }
  return slis;
}
