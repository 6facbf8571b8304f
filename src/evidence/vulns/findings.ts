/**
 * Turns advisory matches into findings: one per issue per installed package, where advisories that
 * alias each other (a GHSA and the PYSEC record of the same CVE, say) are one issue. Pure: no I/O.
 */
import { cvss3BaseScore, type Severity } from "./cvss.js";
import { affectedEntriesFor } from "./match.js";
import type { Osv, OsvSeverity } from "./osv.js";
import type { PackageVersion } from "./packages.js";
import { versionSchemeFor } from "./versions/index.js";

export type FindingSeverity = Severity | "unknown";

export interface Finding {
  /** The smallest id among the matched records */
  id: string;
  /** Every other id the matched records carry or are known by, sorted */
  aliases: string[];
  package: { ecosystem: string; name: string; version: string; purl: string | null };
  severity: FindingSeverity;
  /** CVSS v3 base score, when a record carries a vector */
  score: number | null;
  /** The lowest fixed version above the installed one, when any record names one */
  fixed: string | null;
  summary: string | null;
}

export interface AdvisoryMatch {
  pkg: PackageVersion;
  advisory: Osv;
  fixedAbove: string[];
}

const severityRank: Record<FindingSeverity, number> = {
  critical: 5,
  high: 4,
  medium: 3,
  low: 2,
  none: 1,
  unknown: 0,
};

// GitHub's advisory database writes its own scale into database_specific.severity
const databaseSeverities: Record<string, Severity> = {
  CRITICAL: "critical",
  HIGH: "high",
  MODERATE: "medium",
  MEDIUM: "medium",
  LOW: "low",
  NONE: "none",
};

export function compareSeverity(a: FindingSeverity, b: FindingSeverity): number {
  return severityRank[a] - severityRank[b];
}

export function isSeverity(text: string): text is FindingSeverity {
  return Object.hasOwn(severityRank, text);
}

/**
 * The severity of an advisory for one package: a CVSS v3 vector on the package's entry, else on the
 * record, is scored; without one the database's own label is used.
 */
export function assessSeverity(
  advisory: Osv,
  pkg: PackageVersion,
): { severity: FindingSeverity; score: number | null } {
  const entrySeverities = affectedEntriesFor(advisory, pkg).flatMap((entry) => entry.severity ?? []);
  for (const severities of [entrySeverities, advisory.severity ?? []]) {
    const scored = highestCvss(severities);
    if (scored !== undefined) return scored;
  }
  const label = advisory.database_specific?.severity;
  const mapped = typeof label === "string" ? databaseSeverities[label.toUpperCase()] : undefined;
  return { severity: mapped ?? "unknown", score: null };
}

function highestCvss(severities: OsvSeverity[]): { severity: Severity; score: number } | undefined {
  let best: { severity: Severity; score: number } | undefined;
  for (const entry of severities) {
    if (entry.type !== "CVSS_V3") continue;
    const result = cvss3BaseScore(entry.score);
    if (result.ok && (best === undefined || result.score > best.score)) {
      best = { severity: result.severity, score: result.score };
    }
  }
  return best;
}

function packageIdentity(pkg: PackageVersion): string {
  return pkg.purl ?? `${pkg.ecosystem}\u0000${pkg.name}\u0000${pkg.version}`;
}

/** Groups advisories whose ids or aliases overlap (transitively). */
function aliasClusters(advisories: Osv[]): Osv[][] {
  const clusterOfId = new Map<string, number>();
  const clusters: Osv[][] = [];
  for (const advisory of advisories) {
    const names = [advisory.id, ...(advisory.aliases ?? [])];
    const joined = [
      ...new Set(names.map((name) => clusterOfId.get(name)).filter((index) => index !== undefined)),
    ];
    const target = joined[0] ?? clusters.push([]) - 1;
    const members = clusters[target] as Osv[];
    members.push(advisory);
    for (const other of joined.slice(1)) {
      const moved = clusters[other] as Osv[];
      members.push(...moved);
      clusters[other] = [];
    }
    for (const member of members) {
      for (const name of [member.id, ...(member.aliases ?? [])]) clusterOfId.set(name, target);
    }
  }
  return clusters.filter((cluster) => cluster.length > 0);
}

function lowestVersion(ecosystem: string, versions: string[]): string | null {
  const scheme = versionSchemeFor(ecosystem);
  let lowest: { text: string; version: unknown } | undefined;
  for (const text of versions) {
    const parsed = scheme?.parse(text);
    if (parsed === undefined || !parsed.ok) continue;
    if (lowest === undefined || (scheme?.compare(parsed.version, lowest.version) ?? 0) < 0) {
      lowest = { text, version: parsed.version };
    }
  }
  return lowest?.text ?? null;
}

export function buildFindings(matches: AdvisoryMatch[]): Finding[] {
  const byPackage = new Map<string, AdvisoryMatch[]>();
  for (const match of matches) {
    const key = packageIdentity(match.pkg);
    byPackage.set(key, [...(byPackage.get(key) ?? []), match]);
  }
  const findings: Finding[] = [];
  for (const packageMatches of byPackage.values()) {
    const first = packageMatches[0];
    if (first === undefined) continue;
    const pkg = first.pkg;
    const unique = [...new Map(packageMatches.map((match) => [match.advisory.id, match])).values()];
    for (const cluster of aliasClusters(unique.map((match) => match.advisory))) {
      const ids = cluster.map((advisory) => advisory.id).sort();
      const id = ids[0] as string;
      const names = new Set(cluster.flatMap((advisory) => [advisory.id, ...(advisory.aliases ?? [])]));
      names.delete(id);
      const assessed = cluster
        .map((advisory) => assessSeverity(advisory, pkg))
        .sort((a, b) => compareSeverity(b.severity, a.severity) || (b.score ?? -1) - (a.score ?? -1))[0];
      const fixedAbove = unique
        .filter((match) => cluster.includes(match.advisory))
        .flatMap((match) => match.fixedAbove);
      const primary = cluster.find((advisory) => advisory.id === id);
      findings.push({
        id,
        aliases: [...names].sort(),
        package: { ecosystem: pkg.ecosystem, name: pkg.name, version: pkg.version, purl: pkg.purl ?? null },
        severity: assessed?.severity ?? "unknown",
        score: assessed?.score ?? null,
        fixed: lowestVersion(pkg.ecosystem, fixedAbove),
        summary: primary?.summary ?? cluster.find((advisory) => advisory.summary)?.summary ?? null,
      });
    }
  }
  return findings.sort(
    (a, b) =>
      compareSeverity(b.severity, a.severity) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
      (a.package.name < b.package.name ? -1 : a.package.name > b.package.name ? 1 : 0) ||
      (a.package.version < b.package.version ? -1 : a.package.version > b.package.version ? 1 : 0),
  );
}
