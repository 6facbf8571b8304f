/**
 * The one printer of `--json`: every command prints its JSON through here, indented the same
 * way and ending with a newline, so scripts read every command alike. Each command's shape is
 * documented in docs/cli-json.md.
 */
import type { CliContext } from "./command.js";

export function printJson(context: Pick<CliContext, "stdout">, value: unknown): void {
  context.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
