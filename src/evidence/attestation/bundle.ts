/**
 * `.intoto.jsonl` bundles: one DSSE envelope as compact JSON per line, the format in-toto and
 * SLSA tools exchange attestations in. Pure.
 */
import { UserError } from "../../errors.js";
import { parseEnvelope, type Envelope } from "./dsse.js";

export function formatBundle(envelopes: Envelope[]): string {
  return envelopes.map((envelope) => `${JSON.stringify(envelope)}\n`).join("");
}

/** Blank lines are skipped; any other line that is not an envelope is an error naming file:line. */
export function parseBundle(text: string, file: string): Envelope[] {
  const envelopes: Envelope[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const where = `${file}:${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new UserError(`${where}: not JSON (${(error as Error).message})`);
    }
    envelopes.push(parseEnvelope(value, where));
  }
  if (envelopes.length === 0) throw new UserError(`${file}: the bundle holds no envelopes`);
  return envelopes;
}
