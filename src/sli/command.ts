/**
 * SLIs from a program of the user's: it runs without a shell in the service's folder, with the
 * window in its environment (WAYBILL_SERVICE, WAYBILL_STAGE, WAYBILL_VERSION, and WAYBILL_START /
 * WAYBILL_END as ISO 8601), and prints one JSON object of SLI values on stdout:
 * `{"db_p99": 12.5, "queue_depth": null}` (null: it knows the SLI but has no value). Logs belong
 * on stderr. Its run time and output are bounded; a timeout, a non-zero exit or unreadable
 * output rejects with the command's last stderr lines.
 */
import { BoundedCommandError, describeFailure, runBoundedCommand } from "../exec/bounded-command.js";
import { UserError } from "../errors.js";
import { commandArgv } from "../spec/units.js";
import type { NoValueReporter, SliProvider, SliQueryContext } from "./provider.js";

export interface CommandProviderOptions {
  /** A command line (split like waybill.yaml's run command, no shell syntax) or an argv */
  command: string | string[];
  cwd: string;
  timeoutMs: number;
  /** Stdout beyond this fails the command. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Added to the inherited environment, before the WAYBILL_* window variables */
  env?: Record<string, string>;
}

const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** `source` names the command in messages. Throws a UserError for anything but `{"name": number | null}`. */
export function parseSliOutput(text: string, source: string): Record<string, number | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(
      `${source} did not print a JSON object of SLI values on stdout; it printed ${JSON.stringify(text.trim().slice(0, 200))}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`${source} printed ${JSON.stringify(parsed)}, not a JSON object of SLI values`);
  }
  const entries = Object.entries(parsed);
  for (const [name, value] of entries) {
    if (value !== null && (typeof value !== "number" || !Number.isFinite(value))) {
      throw new UserError(
        `${source}: SLI ${JSON.stringify(name)} is ${JSON.stringify(value)}, expected a number or null`,
      );
    }
  }
  return Object.fromEntries(entries as Array<[string, number | null]>);
}

/** The control plane's own WAYBILL_* settings (state dir, tokens) are not the command's business. */
function inheritedEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && !entry[0].startsWith("WAYBILL_"),
    ),
  );
}

function windowEnvironment(context: SliQueryContext): Record<string, string> {
  return {
    WAYBILL_SERVICE: context.service,
    WAYBILL_STAGE: context.stage,
    WAYBILL_VERSION: context.version,
    WAYBILL_START: context.start.toISOString(),
    WAYBILL_END: context.end.toISOString(),
  };
}

/** Runs the command once and returns its stdout, or rejects saying why it failed. */
async function runCommand(
  argv: readonly string[],
  options: CommandProviderOptions,
  env: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<string> {
  const shown = `SLI command ${JSON.stringify(argv.join(" "))}`;
  if (argv.length === 0) throw new UserError(`${shown} is empty`);
  try {
    return await runBoundedCommand(argv, {
      cwd: options.cwd,
      env: { ...inheritedEnvironment(), ...options.env, ...env },
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    if (!(error instanceof BoundedCommandError)) throw error;
    const stderrNote = error.stderrTail === "" ? "" : `; its stderr ends with:\n${error.stderrTail}`;
    throw new UserError(`${shown} ${describeFailure(error.failure, (ms) => `${ms / 1000}s`)}${stderrNote}`);
  }
}

export function commandProvider(options: CommandProviderOptions): SliProvider {
  const argv = commandArgv(options.command);
  const name = `command ${argv.join(" ")}`;
  return {
    name,
    fetch: async (names, context, signal, noValue?: NoValueReporter) => {
      const printed = parseSliOutput(
        await runCommand(argv, options, windowEnvironment(context), signal),
        `SLI command ${JSON.stringify(argv.join(" "))}`,
      );
      const known = [...new Set(names)].filter((sli) => Object.hasOwn(printed, sli));
      for (const sli of known) if (printed[sli] === null) noValue?.(sli, "the command printed null");
      return Object.fromEntries(known.map((sli) => [sli, printed[sli] ?? null]));
    },
  };
}
