/**
 * A version order for one ecosystem. Parsing is separate from comparing so that a version which
 * cannot be read is reported to the caller (as a warning about that advisory or component) instead
 * of being thrown through the whole scan.
 */
export type VersionParse<V> = { ok: true; version: V } | { ok: false; error: string };

export interface VersionScheme<V> {
  /** The OSV ecosystem name, e.g. "PyPI" */
  ecosystem: string;
  parse(text: string): VersionParse<V>;
  /** Negative, zero or positive, like Array.prototype.sort expects. */
  compare(a: V, b: V): number;
}

/** Compares two version strings, or says which of them could not be read. */
export function compareVersionTexts<V>(scheme: VersionScheme<V>, a: string, b: string): VersionParse<number> {
  const left = scheme.parse(a);
  if (!left.ok) return left;
  const right = scheme.parse(b);
  if (!right.ok) return right;
  return { ok: true, version: Math.sign(scheme.compare(left.version, right.version)) };
}

export function compareBigInts(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
