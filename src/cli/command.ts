/**
 * The shape every CLI command shares, one file per command under commands/ (as npm/cli does).
 * `configure` declares arguments and options on a commander Command; `run` does the work and
 * returns the process exit code (docs/design.md: 0 ok/pass, 1 gate or verification failed,
 * 2 bad input, 3 gate warning). Throwing a UserError also exits 2 with just its message.
 */
import type { Command } from "commander";

export interface CliContext {
  /** The state directory: --state, else WAYBILL_STATE, else the nearest .waybill/ upward, else ./.waybill */
  stateDir: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Its one-line summary sits in commands/index.ts, which lists every command without loading it. */
export interface CliCommand {
  name: string;
  configure(command: Command): Command;
  run(args: string[], options: Record<string, unknown>, context: CliContext): Promise<number>;
}
