/**
 * Schemas for the values CLI arguments and flags take. Commander hands over text; each schema
 * turns it into the type the command works with, or refuses it with a message that says what it
 * expected, to which command.ts adds the flag's name and what was given.
 */
import { z } from "zod";
import { parseDuration } from "../spec/units.js";

/** A switch, off unless given */
export const flag = z.boolean().default(false);

/** A `--no-…` switch, on unless negated */
export const flagOnByDefault = z.boolean().default(true);

/** Any text, the empty text too */
export const text = z.string({ error: "expected text" });

/** Text that must say something: "a file path", "a predicate type" */
export function nonEmpty(what: string) {
  return z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });
}

export const filePath = nonEmpty("a file path");

/** A flag given once for each value, collected in order */
export function repeatable<Schema extends z.ZodType>(value: Schema) {
  return z.array(value).prefault([]);
}

/**
 * Text turned into a value by `parse`, which answers undefined for text it cannot read; the
 * refusal then says `expected`.
 */
export function fromText<Value>(expected: string, parse: (text: string) => Value | undefined) {
  return z.string({ error: expected }).transform((given, context) => {
    const value = parse(given);
    if (value !== undefined) return value;
    context.addIssue(expected);
    return z.NEVER;
  });
}

/**
 * One of a few words. --help lists them as choices unless the description already names them.
 */
export function oneOf<const Words extends readonly string[]>(
  words: Words,
  { listedInHelp = true }: { listedInHelp?: boolean } = {},
): z.ZodType<Words[number], Words[number]> {
  const error = `expected ${spokenList(words)}`;
  return listedInHelp ? z.enum(words, { error }) : z.literal(words, { error });
}

/** Digits only: no sign, no exponent, no fraction, so `1e3` and `-1` are not whole numbers here. */
export function wholeNumber(range: { min: number; max?: number; of?: string }) {
  const { min, max = Number.MAX_SAFE_INTEGER } = range;
  const bounds = range.max === undefined ? `of at least ${min}` : `from ${min} to ${range.max}`;
  const noun = range.of === undefined ? "a whole number" : `a whole number of ${range.of}`;
  return fromText(`expected ${noun} ${bounds}`, (given) => {
    const value = /^\d+$/.test(given) ? Number(given) : NaN;
    return value >= min && value <= max ? value : undefined;
  });
}

/** A number in a range: above (and below) a bound, or a bound or more */
export function number(range: { above: number; below?: number } | { atLeast: number }) {
  const accepts = (value: number): boolean =>
    "atLeast" in range
      ? value >= range.atLeast
      : value > range.above && (range.below === undefined || value < range.below);
  const bounds =
    "atLeast" in range
      ? `${range.atLeast} or more`
      : range.below === undefined
        ? `above ${range.above}`
        : `between ${range.above} and ${range.below}`;
  return fromText(`expected a number ${bounds}`, (given) => {
    const value = given.trim() === "" ? NaN : Number(given);
    return Number.isFinite(value) && accepts(value) ? value : undefined;
  });
}

/** In milliseconds, from `500ms`, `10s`, `2m`, `1h30m` */
export function duration({ aboveZero = false }: { aboveZero?: boolean } = {}) {
  const expected = `expected a duration${aboveZero ? " above 0" : ""}, such as 500ms, 10s or 2m`;
  return fromText(expected, (given) => {
    const ms = durationOrUndefined(given);
    return ms === undefined || (aboveZero && ms <= 0) ? undefined : ms;
  });
}

function durationOrUndefined(given: string): number | undefined {
  try {
    return parseDuration(given);
  } catch {
    return undefined;
  }
}

/** `a`, `a or b`, `a, b or c` */
function spokenList(words: readonly string[]): string {
  const last = words[words.length - 1] ?? "";
  return words.length <= 1 ? last : `${words.slice(0, -1).join(", ")} or ${last}`;
}
