/**
 * PEP 440 version ordering (https://peps.python.org/pep-0440/): epoch, release (trailing zeros do
 * not count, so 1.0 == 1.0.0), then pre-release, post-release and development release, then the
 * local label. A bare ".devN" sorts before every pre-release of the same release.
 */
import { compareBigInts, type VersionScheme } from "./scheme.js";

export interface Pep440Version {
  epoch: bigint;
  /** Release numbers without trailing zeros */
  release: bigint[];
  pre?: { phase: PrePhase; number: bigint };
  post?: bigint;
  dev?: bigint;
  /** Local label segments, numbers as bigint */
  local?: (bigint | string)[];
}

type PrePhase = "a" | "b" | "rc";

const prePhaseRank: Record<PrePhase, number> = { a: 0, b: 1, rc: 2 };

// The PEP 440 grammar with its permitted spellings: separators [-_.] anywhere they are optional,
// implicit numbers, "alpha"/"c"/"pre"/"preview"/"rev"/"r" and the "-N" form of a post-release.
const pep440 = new RegExp(
  "^v?" +
    "(?:(?<epoch>[0-9]+)!)?" +
    "(?<release>[0-9]+(?:\\.[0-9]+)*)" +
    "(?:[-_.]?(?<prePhase>alpha|a|beta|b|preview|pre|rc|c)[-_.]?(?<preNumber>[0-9]+)?)?" +
    "(?:-(?<implicitPost>[0-9]+)|[-_.]?(?:post|rev|r)[-_.]?(?<postNumber>[0-9]+)?(?<postMarker>))?" +
    "(?:[-_.]?dev[-_.]?(?<devNumber>[0-9]+)?(?<devMarker>))?" +
    "(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$",
);

function phaseOf(spelling: string): PrePhase {
  if (spelling === "a" || spelling === "alpha") return "a";
  if (spelling === "b" || spelling === "beta") return "b";
  return "rc";
}

function withoutTrailingZeros(numbers: bigint[]): bigint[] {
  let end = numbers.length;
  while (end > 1 && numbers[end - 1] === 0n) end--;
  return numbers.slice(0, end);
}

export function parsePep440(text: string): Pep440Version | undefined {
  const match = pep440.exec(text.trim().toLowerCase());
  const groups = match?.groups;
  if (groups?.release === undefined) return undefined;
  const version: Pep440Version = {
    epoch: BigInt(groups.epoch ?? "0"),
    release: withoutTrailingZeros(groups.release.split(".").map((part) => BigInt(part))),
  };
  if (groups.prePhase !== undefined) {
    version.pre = { phase: phaseOf(groups.prePhase), number: BigInt(groups.preNumber ?? "0") };
  }
  if (groups.implicitPost !== undefined) version.post = BigInt(groups.implicitPost);
  else if (groups.postMarker !== undefined) version.post = BigInt(groups.postNumber ?? "0");
  if (groups.devMarker !== undefined) version.dev = BigInt(groups.devNumber ?? "0");
  if (groups.local !== undefined) {
    version.local = groups.local.split(/[-_.]/).map((part) => (/^[0-9]+$/.test(part) ? BigInt(part) : part));
  }
  return version;
}

function compareReleases(a: bigint[], b: bigint[]): number {
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const order = compareBigInts(a[index] ?? 0n, b[index] ?? 0n);
    if (order !== 0) return order;
  }
  return 0;
}

/** Where the pre-release part puts a version: a dev-only release goes before any pre-release, a final release after. */
function preRank(version: Pep440Version): [number, bigint] {
  if (version.pre !== undefined) return [prePhaseRank[version.pre.phase], version.pre.number];
  if (version.post === undefined && version.dev !== undefined) return [-1, 0n];
  return [3, 0n];
}

function compareLocal(a: (bigint | string)[] | undefined, b: (bigint | string)[] | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    const left = a[index] as bigint | string;
    const right = b[index] as bigint | string;
    if (typeof left === "bigint" && typeof right === "bigint") {
      const order = compareBigInts(left, right);
      if (order !== 0) return order;
    } else if (typeof left === "bigint" || typeof right === "bigint") {
      // a numeric local segment is newer than an alphanumeric one
      return typeof left === "bigint" ? 1 : -1;
    } else if (left !== right) {
      return left < right ? -1 : 1;
    }
  }
  return a.length - b.length;
}

export function comparePep440(a: Pep440Version, b: Pep440Version): number {
  const [aPhase, aPreNumber] = preRank(a);
  const [bPhase, bPreNumber] = preRank(b);
  return (
    compareBigInts(a.epoch, b.epoch) ||
    compareReleases(a.release, b.release) ||
    aPhase - bPhase ||
    compareBigInts(aPreNumber, bPreNumber) ||
    // no post-release sorts before .post0
    compareBigInts(a.post ?? -1n, b.post ?? -1n) ||
    // no dev-release sorts after every .devN
    (a.dev === undefined || b.dev === undefined
      ? Number(a.dev === undefined) - Number(b.dev === undefined)
      : compareBigInts(a.dev, b.dev)) ||
    compareLocal(a.local, b.local)
  );
}

export const pypiVersions: VersionScheme<Pep440Version> = {
  ecosystem: "PyPI",
  parse(text) {
    const version = parsePep440(text);
    return version === undefined
      ? { ok: false, error: `not a PEP 440 version: "${text}"` }
      : { ok: true, version };
  },
  compare: comparePep440,
};
