/**
 * Runs an external load tool (k6, wrk, JMeter, through a small wrapper) in place of the
 * built-in generator. The command is an argv array run without a shell; on success it must
 * print exactly one JSON object of SLI values, `{"latency_p99": 12.5, "error_rate": 0}`, on
 * stdout (logs belong on stderr). Its output and its run time are bounded.
 */
import { BoundedCommandError, describeFailure, runBoundedCommand } from "../exec/bounded-command.js";
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

export async function runExternalLoad(
  command: readonly string[],
  options: ExternalLoadOptions,
): Promise<SliValues> {
  const shown = command.join(" ");
  if (shown.trim() === "") throw new UserError("external load command is empty");
  let stdout: string;
  try {
    stdout = await runBoundedCommand(command, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes ?? defaultMaxOutputBytes,
    });
  } catch (error) {
    if (!(error instanceof BoundedCommandError)) throw error;
    const stderrNote = error.stderrTail === "" ? "" : `\n${error.stderrTail}`;
    throw new UserError(
      `external load command ${shown} ${describeFailure(error.failure, (ms) => `${ms} ms`)}${stderrNote}`,
    );
  }
  return parseSliJson(stdout, shown);
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
