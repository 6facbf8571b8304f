/** OSV vulnerability matching: the API the CLI and the evidence pipeline use. */
export { cvss3BaseScore, roundUp, severityOfScore, type CvssResult, type Severity } from "./cvss.js";
export {
  assessSeverity,
  buildFindings,
  compareSeverity,
  isSeverity,
  type AdvisoryMatch,
  type Finding,
  type FindingSeverity,
} from "./findings.js";
export { loadAdvisories, type LoadedAdvisories } from "./load.js";
export { matchAdvisory, type MatchOutcome } from "./match.js";
export { parseOsv, type Osv, type OsvAffected, type OsvEvent, type OsvRange } from "./osv.js";
export { normalisePackageName, packageFromPurl, type PackageVersion } from "./packages.js";
export {
  vulnsPredicate,
  vulnsPredicateType,
  type ScannerIdentity,
  type VulnsPredicate,
} from "./predicate.js";
export {
  packagesFromBom,
  readBomFile,
  readScanInput,
  scanBom,
  scanPackages,
  type ScanResult,
} from "./scan.js";
export { MemoryAdvisoryStore, type AdvisoryStore } from "./store.js";
export { versionSchemeFor, type VersionScheme } from "./versions/index.js";
