import { Command, CommanderError } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError, errorMessage } from "../errors.js";
import type { CliCommand, CliContext } from "./command.js";
import { commands } from "./commands/index.js";
import { setStateNamed } from "./state-choice.js";

/**
 * As git finds `.git`: --state, then WAYBILL_STATE, then the nearest `.waybill/` in this folder
 * or above it, then `./.waybill`. One project keeps one state wherever in it a command runs.
 */
export function stateDirFrom(options: { state?: string }, cwd = process.cwd()): string {
  const chosen = options.state ?? process.env.WAYBILL_STATE;
  if (chosen !== undefined && chosen !== "") return resolve(cwd, chosen);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".waybill"))) return join(dir, ".waybill");
    if (dirname(dir) === dir) return resolve(cwd, ".waybill");
  }
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command("waybill")
    .description(
      "Carry a build artifact through its stages: deploy, load, judge, and record signed evidence.",
    )
    .option(
      "--state <dir>",
      "state directory (default: $WAYBILL_STATE, else the nearest .waybill/ here or above, else ./.waybill)",
    )
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .showHelpAfterError("(run with --help for usage)");

  const requested = requestedCommand(argv);
  // Only before a command: `ship --version 1.2.0` names the build's version.
  if (requested === undefined)
    program.version(versionLine(), "-V, --version", "print Waybill's version and Node's");
  for (const entry of commands) {
    if (entry.name !== requested) {
      // Listed for --help and for "unknown command" suggestions; never run.
      program.addCommand(new Command(entry.name).description(entry.summary));
      continue;
    }
    const command = await entry.load();
    const sub = command.configure(new Command(entry.name).description(entry.summary));
    sub.exitOverride();
    sub.action(async (...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      const globals = self.optsWithGlobals<{ state?: string }>();
      setStateNamed(globals.state !== undefined || (process.env.WAYBILL_STATE ?? "") !== "");
      const context: CliContext = {
        stateDir: stateDirFrom(globals),
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      };
      exitCode = await runCommand(command, self.args, self.opts(), context);
    });
    program.addCommand(sub);
  }

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      if (error.code === "commander.help") return 0;
      return 2;
    }
    throw error;
  }
  return exitCode;
}

/** The command argv names (`waybill [--state d] <command>`, or `waybill help <command>`), if any. */
function requestedCommand(argv: readonly string[]): string | undefined {
  const words: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? "";
    if (arg === "--state") index++;
    else if (!arg.startsWith("-")) words.push(arg);
  }
  const [first, second] = words;
  return first === "help" ? second : first;
}

function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return `waybill ${pkg.version} (node ${process.version})`;
}

async function runCommand(
  command: CliCommand,
  args: string[],
  options: Record<string, unknown>,
  context: CliContext,
): Promise<number> {
  try {
    return await command.run(args, options, context);
  } catch (error) {
    if (error instanceof UserError) {
      context.stderr(`error: ${error.message}\n`);
      return error.exitCode;
    }
    context.stderr(`waybill ${command.name}: internal error: ${errorMessage(error)}\n`);
    if (process.env.WAYBILL_DEBUG && error instanceof Error) context.stderr(`${error.stack}\n`);
    else context.stderr("(set WAYBILL_DEBUG=1 to see the stack trace)\n");
    return 70;
  }
}

const isEntryPoint = process.argv[1] !== undefined && /(?:waybill(?:\.js)?|main\.js)$/.test(process.argv[1]);
if (isEntryPoint) {
  // A reader that stops early (`waybill runs | head`) is not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`waybill: ${errorMessage(error)}\n`);
      process.exitCode = 70;
    },
  );
}
