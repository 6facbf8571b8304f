/**
 * The in-toto vulns predicate (https://github.com/in-toto/attestation/blob/main/spec/predicates/vulns.md,
 * v0.2) for a scan, ready to be wrapped in a Statement and signed.
 */
import type { Finding } from "./findings.js";
import type { ScanResult } from "./scan.js";

export const vulnsPredicateType = "https://in-toto.io/attestation/vulns/v0.2";

export interface VulnsPredicate {
  scanner: {
    uri: string;
    version: string;
    /** `advisories`: how many the database held per ecosystem; `lastUpdate`: its newest advisory */
    db: { uri?: string; version?: string; lastUpdate?: string; advisories?: Record<string, number> };
    result: { id: string; severity: { method: string; score: string }[] }[];
  };
  metadata: { scanStartedOn: string; scanFinishedOn: string };
  /**
   * Beyond vulns v0.2: the ecosystems the artifact has packages in that the database had no
   * advisories for. An empty result says nothing about them, and a stage policy treats them so.
   */
  notScanned: { ecosystem: string; packages: number }[];
}

export interface ScannerIdentity {
  uri: string;
  version: string;
  db?: { uri?: string; version?: string };
}

/**
 * Each finding becomes one result. Its severity carries the CVSS v3 base score when there is one
 * and always the qualitative level, which is what a stage policy's max_severity compares.
 */
function resultOf(finding: Finding): VulnsPredicate["scanner"]["result"][number] {
  const severity: { method: string; score: string }[] = [{ method: "qualitative", score: finding.severity }];
  if (finding.score !== null) severity.unshift({ method: "CVSS_V3", score: finding.score.toFixed(1) });
  return { id: finding.id, severity };
}

export function vulnsPredicate(scan: ScanResult, scanner: ScannerIdentity): VulnsPredicate {
  const db: VulnsPredicate["scanner"]["db"] = {};
  if (scanner.db?.uri !== undefined) db.uri = scanner.db.uri;
  if (scanner.db?.version !== undefined) db.version = scanner.db.version;
  if (scan.database.newestModified !== null)
    db.lastUpdate = new Date(scan.database.newestModified).toISOString();
  db.advisories = scan.database.advisories;
  return {
    scanner: { uri: scanner.uri, version: scanner.version, db, result: scan.findings.map(resultOf) },
    metadata: { scanStartedOn: scan.startedOn.toISOString(), scanFinishedOn: scan.finishedOn.toISOString() },
    notScanned: scan.notScanned,
  };
}
