/**
 * Maven's version order, as specified at https://maven.apache.org/pom.html#version-order-specification
 * (the rules of Maven's ComparableVersion; where that class and the specification's examples
 * disagree — "1.foo" == "1-foo", "1-ga-1" == "1-1" — the specification is followed).
 *
 * A version is split into items at ".", "-" and every switch between digits and letters. A "-"
 * or a digit/letter switch opens a nested list, which is why "1-1" < "1.1". Numbers compare as
 * numbers; qualifiers by alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release
 * < sp, unknown qualifiers after those in lexical order. Trailing "null" items (0, "", an empty
 * list) are dropped from each list, so "1.0" == "1" == "1-ga", and when one list runs out the
 * missing items compare as null ("padding").
 */
import { compareBigInts, type VersionScheme } from "./scheme.js";

export type MavenItem = bigint | string | MavenItem[];

const knownQualifiers = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const releaseRank = knownQualifiers.indexOf("");
const qualifierAliases: Record<string, string> = { ga: "", final: "", release: "", cr: "rc" };
const shortQualifiers: Record<string, string> = { a: "alpha", b: "beta", m: "milestone" };

function qualifier(text: string, followedByDigit: boolean): string {
  // "a1" means alpha-1, but a lone "a" is just an unknown qualifier
  const expanded = followedByDigit ? (shortQualifiers[text] ?? text) : text;
  return qualifierAliases[expanded] ?? expanded;
}

function isNullItem(item: MavenItem): boolean {
  if (typeof item === "bigint") return item === 0n;
  if (typeof item === "string") return item === "";
  return item.length === 0;
}

/**
 * Drops trailing null items, looking past nested lists (which are trimmed on their own). A nested
 * list left holding only another list is the same position one level down ("1-ga-1" is "1-1").
 */
function trimTrailingNulls(list: MavenItem[]): void {
  for (let index = list.length - 1; index >= 0; index--) {
    const item = list[index] as MavenItem;
    if (isNullItem(item)) list.splice(index, 1);
    else if (!Array.isArray(item)) break;
  }
  for (const [index, item] of list.entries()) {
    if (Array.isArray(item) && item.length === 1 && Array.isArray(item[0])) list[index] = item[0];
  }
}

export function parseMavenVersion(text: string): MavenItem[] {
  const version = text.trim().toLowerCase();
  const root: MavenItem[] = [];
  const opened: MavenItem[][] = [root];
  let list = root;
  let start = 0;
  let inDigits = false;
  const token = (end: number): MavenItem =>
    inDigits ? BigInt(version.slice(start, end)) : qualifier(version.slice(start, end), false);
  const openList = (): void => {
    const nested: MavenItem[] = [];
    list.push(nested);
    opened.push(nested);
    list = nested;
  };
  for (let index = 0; index < version.length; index++) {
    const char = version[index] as string;
    const isDigit = char >= "0" && char <= "9";
    if (char === "." || char === "-") {
      list.push(index === start ? 0n : token(index));
      start = index + 1;
      if (char === "-") openList();
    } else if (isDigit !== inDigits && index > start) {
      list.push(isDigit ? qualifier(version.slice(start, index), true) : token(index));
      start = index;
      openList();
    }
    if (char !== "." && char !== "-") inDigits = isDigit;
  }
  if (version.length > start) list.push(token(version.length));
  for (const nested of opened.reverse()) trimTrailingNulls(nested);
  return root;
}

function qualifierKey(text: string): string {
  const rank = knownQualifiers.indexOf(text);
  return rank === -1 ? `${knownQualifiers.length}-${text}` : String(rank);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How an item compares with a missing one at the same position. */
function compareWithNull(item: MavenItem): number {
  if (typeof item === "bigint") return item === 0n ? 0 : 1;
  if (typeof item === "string") return compareText(qualifierKey(item), String(releaseRank));
  const first = item[0];
  return first === undefined ? 0 : compareWithNull(first);
}

export function compareMavenItems(a: MavenItem | undefined, b: MavenItem | undefined): number {
  if (a === undefined) return b === undefined ? 0 : -compareWithNull(b);
  if (b === undefined) return compareWithNull(a);
  if (typeof a === "bigint") return typeof b === "bigint" ? compareBigInts(a, b) : 1;
  // the specification makes ".qualifier" equal to "-qualifier", so a qualifier meets a list as a list
  if (typeof a === "string") {
    if (typeof b === "string") return compareText(qualifierKey(a), qualifierKey(b));
    return typeof b === "bigint" ? -1 : compareMavenItems([a], b);
  }
  if (typeof b === "bigint") return -1;
  if (typeof b === "string") return compareMavenItems(a, [b]);
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const order = compareMavenItems(a[index], b[index]);
    if (order !== 0) return order;
  }
  return 0;
}

export const mavenVersions: VersionScheme<MavenItem[]> = {
  ecosystem: "Maven",
  parse(text) {
    return text.trim() === ""
      ? { ok: false, error: "empty Maven version" }
      : { ok: true, version: parseMavenVersion(text) };
  },
  compare: compareMavenItems,
};
