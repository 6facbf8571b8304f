/**
 * Whether a package version is affected by an OSV advisory, following the evaluation algorithm of
 * the OSV schema (https://ossf.github.io/osv-schema/#evaluation). Pure: no I/O.
 *
 * - `versions[]` is an exact list; `ranges[]` of type SEMVER or ECOSYSTEM are timelines evaluated in
 *   the ecosystem's own version order. GIT ranges need the repository's commit graph and are
 *   skipped (databases that use them also list the affected `versions[]`).
 * - Events are sorted with `introduced: "0"` first, then by version; walking the timeline,
 *   `introduced` turns the state on, `fixed` (v >= fixed) and `last_affected` (v > last) turn it off.
 * - `limit` events bound the range: the version must be below at least one of them ("*" is infinity).
 * - `database_specific` and `ecosystem_specific` never change the outcome. Withdrawn advisories match nothing.
 */
import { eventKind, eventVersion, type Osv, type OsvAffected, type OsvEvent, type OsvRange } from "./osv.js";
import { normalisePackageName, type PackageVersion } from "./packages.js";
import { baseEcosystem, versionSchemeFor, type VersionScheme } from "./versions/index.js";

export interface MatchOutcome {
  affected: boolean;
  /** Every `fixed` version of this package in the advisory that is above the installed version */
  fixedAbove: string[];
  /** Versions that could not be read; the ranges holding them were not evaluated */
  problems: string[];
}

const orderedRangeTypes = new Set(["SEMVER", "ECOSYSTEM"]);

/** The entries of an advisory that name this package. */
export function affectedEntriesFor(advisory: Osv, pkg: PackageVersion): OsvAffected[] {
  const ecosystem = baseEcosystem(pkg.ecosystem);
  const name = normalisePackageName(pkg.ecosystem, pkg.name);
  return (advisory.affected ?? []).filter(
    (entry) =>
      entry.package !== undefined &&
      baseEcosystem(entry.package.ecosystem) === ecosystem &&
      normalisePackageName(entry.package.ecosystem, entry.package.name) === name,
  );
}

export function matchAdvisory(advisory: Osv, pkg: PackageVersion): MatchOutcome {
  const outcome: MatchOutcome = { affected: false, fixedAbove: [], problems: [] };
  if (advisory.withdrawn !== undefined) return outcome;
  const entries = affectedEntriesFor(advisory, pkg);
  if (entries.length === 0) return outcome;
  const scheme = versionSchemeFor(pkg.ecosystem);
  if (scheme === undefined) {
    outcome.problems.push(`${advisory.id}: no version order for ecosystem ${pkg.ecosystem}`);
    return outcome;
  }
  const installed = scheme.parse(pkg.version);
  if (!installed.ok) {
    outcome.problems.push(`${pkg.name}@${pkg.version}: ${installed.error}`);
    return outcome;
  }
  const evaluator = new RangeEvaluator(scheme, installed.version);
  for (const entry of entries) {
    if (includedInVersions(scheme, installed.version, pkg.version, entry.versions ?? []))
      outcome.affected = true;
    for (const range of entry.ranges ?? []) {
      if (!orderedRangeTypes.has(range.type)) continue;
      const result = evaluator.evaluate(range);
      if (typeof result === "string") {
        outcome.problems.push(`${advisory.id}: ${result}`);
        continue;
      }
      if (result.affected) outcome.affected = true;
      outcome.fixedAbove.push(...result.fixedAbove);
    }
  }
  return outcome;
}

function includedInVersions<V>(
  scheme: VersionScheme<V>,
  installed: V,
  text: string,
  versions: string[],
): boolean {
  return versions.some((listed) => {
    if (listed === text) return true;
    // the same release may be spelled differently ("1.0" and "1.0.0" are one PyPI version)
    const parsed = scheme.parse(listed);
    return parsed.ok && scheme.compare(parsed.version, installed) === 0;
  });
}

/** An event with its version read; `undefined` stands for the special "0" / "*" bounds. */
interface ParsedEvent<V> {
  kind: ReturnType<typeof eventKind>;
  text: string;
  version: V | undefined;
}

class RangeEvaluator<V> {
  constructor(
    private readonly scheme: VersionScheme<V>,
    private readonly installed: V,
  ) {}

  evaluate(range: OsvRange): { affected: boolean; fixedAbove: string[] } | string {
    const events: ParsedEvent<V>[] = [];
    for (const event of range.events) {
      const parsed = this.parseEvent(event);
      if (typeof parsed === "string") return parsed;
      events.push(parsed);
    }
    const fixedAbove = events
      .filter((event) => event.kind === "fixed" && this.isAboveInstalled(event))
      .map((event) => event.text);
    if (!this.isBeforeLimits(events)) return { affected: false, fixedAbove };
    let affected = false;
    for (const event of this.sorted(events)) {
      if (event.kind === "introduced" && (event.version === undefined || this.atOrAbove(event.version))) {
        affected = true;
      } else if (event.kind === "fixed" && event.version !== undefined && this.atOrAbove(event.version)) {
        affected = false;
      } else if (event.kind === "last_affected" && event.version !== undefined && this.above(event.version)) {
        affected = false;
      }
    }
    return { affected, fixedAbove };
  }

  private parseEvent(event: OsvEvent): ParsedEvent<V> | string {
    const kind = eventKind(event);
    const text = eventVersion(event);
    if ((kind === "introduced" && text === "0") || (kind === "limit" && text === "*")) {
      return { kind, text, version: undefined };
    }
    const parsed = this.scheme.parse(text);
    return parsed.ok ? { kind, text, version: parsed.version } : `${kind} ${parsed.error}`;
  }

  /** "0" sorts before every version and "*" after; ties keep the record's order (Array.sort is stable). */
  private sorted(events: ParsedEvent<V>[]): ParsedEvent<V>[] {
    const position = (event: ParsedEvent<V>): number =>
      event.version !== undefined ? 0 : event.kind === "introduced" ? -1 : 1;
    return [...events].sort((a, b) =>
      a.version !== undefined && b.version !== undefined
        ? this.scheme.compare(a.version, b.version)
        : position(a) - position(b),
    );
  }

  private isBeforeLimits(events: ParsedEvent<V>[]): boolean {
    const limits = events.filter((event) => event.kind === "limit");
    return (
      limits.length === 0 ||
      limits.some(
        (limit) => limit.version === undefined || this.scheme.compare(this.installed, limit.version) < 0,
      )
    );
  }

  private isAboveInstalled(event: ParsedEvent<V>): boolean {
    return event.version !== undefined && this.scheme.compare(event.version, this.installed) > 0;
  }

  private atOrAbove(version: V): boolean {
    return this.scheme.compare(this.installed, version) >= 0;
  }

  private above(version: V): boolean {
    return this.scheme.compare(this.installed, version) > 0;
  }
}
