/**
 * Colour for people, never for pipes: on only when stdout is a terminal, off with NO_COLOR, and
 * forced on (or off, with 0) by FORCE_COLOR, the conventions most CLIs follow.
 */
const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function colourEnabled(
  env: NodeJS.ProcessEnv = process.env,
  isTty: boolean = process.stdout.isTTY === true,
): boolean {
  const forced = env.FORCE_COLOR;
  if (forced !== undefined && forced !== "") return forced !== "0" && forced !== "false";
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return isTty;
}

export function paint(text: string, colour: Colour, enabled: boolean = colourEnabled()): string {
  return enabled ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
}

/** The colour of a run state or a gate result, where it has one */
export function colourOf(word: string): Colour | undefined {
  if (["released", "succeeded", "pass"].includes(word)) return "green";
  if (["failed", "fail", "rolled-back"].includes(word)) return "red";
  if (["waiting-approval", "warning", "queued"].includes(word)) return "yellow";
  return undefined;
}
