/**
 * A scan: the components of a CycloneDX SBOM matched against an advisory store.
 */
import { readFile, stat } from "node:fs/promises";
import { UserError, errorMessage } from "../../errors.js";
import { generateSbom } from "../sbom/index.js";
import { buildFindings, type AdvisoryMatch, type Finding } from "./findings.js";
import { matchAdvisory } from "./match.js";
import { packageFromPurl, type PackageVersion } from "./packages.js";
import type { AdvisoryCoverage, AdvisoryStore } from "./store.js";
import { baseEcosystem } from "./versions/index.js";

export interface ScanResult {
  findings: Finding[];
  /** Components or advisory ranges that could not be evaluated */
  warnings: string[];
  packagesScanned: number;
  /** What the advisory store held when the scan ran */
  database: AdvisoryCoverage;
  /** Ecosystems the SBOM has packages in but the store has no advisories for: nothing was checked there */
  notScanned: { ecosystem: string; packages: number }[];
  startedOn: Date;
  finishedOn: Date;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Package types with no advisories in the ecosystems we order; not worth a warning each
const unsupportedPurlType = /^unsupported package type/;

/**
 * The packages of a CycloneDX BOM (components, nested components and metadata.component), by
 * purl. Components without a purl cannot be matched to OSV and are left out.
 */
export function packagesFromBom(bom: unknown): { packages: PackageVersion[]; warnings: string[] } {
  if (!isRecord(bom) || bom.bomFormat !== "CycloneDX") {
    throw new UserError('not a CycloneDX BOM (no "bomFormat": "CycloneDX")');
  }
  const byPurl = new Map<string, PackageVersion>();
  const warnings: string[] = [];
  const visit = (components: unknown): void => {
    if (!Array.isArray(components)) return;
    for (const component of components) {
      if (!isRecord(component)) continue;
      if (typeof component.purl === "string" && !byPurl.has(component.purl)) {
        const parsed = packageFromPurl(component.purl);
        if (parsed.ok) byPurl.set(component.purl, parsed.pkg);
        else if (!unsupportedPurlType.test(parsed.error)) warnings.push(parsed.error);
      }
      visit(component.components);
    }
  };
  visit(isRecord(bom.metadata) && isRecord(bom.metadata.component) ? [bom.metadata.component] : []);
  visit(bom.components);
  return { packages: [...byPurl.values()], warnings };
}

export async function readBomFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UserError(`cannot read ${path}: ${errorMessage(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`${path} is not JSON: ${errorMessage(error)}`);
  }
}

/**
 * The SBOM to scan: a folder's is generated from its lockfiles, a file is read as CycloneDX JSON.
 * Warnings are the generator's (lockfile entries it could not read).
 */
export async function readScanInput(path: string): Promise<{ bom: unknown; warnings: string[] }> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new UserError(`not found: ${path}`);
  if (info.isDirectory()) return generateSbom(path);
  return { bom: await readBomFile(path), warnings: [] };
}

export async function scanPackages(
  packages: PackageVersion[],
  store: AdvisoryStore,
): Promise<{ findings: Finding[]; warnings: string[] }> {
  const matches: AdvisoryMatch[] = [];
  const warnings = new Set<string>();
  for (const pkg of packages) {
    for (const advisory of await store.byPackage(pkg.ecosystem, pkg.name)) {
      const outcome = matchAdvisory(advisory, pkg);
      for (const problem of outcome.problems) warnings.add(problem);
      if (outcome.affected) matches.push({ pkg, advisory, fixedAbove: outcome.fixedAbove });
    }
  }
  return { findings: buildFindings(matches), warnings: [...warnings] };
}

/** Packages per ecosystem where the store has not one advisory: an empty result there proves nothing. */
export function unscannedEcosystems(
  packages: PackageVersion[],
  database: AdvisoryCoverage,
): { ecosystem: string; packages: number }[] {
  const present = new Map<string, number>();
  for (const pkg of packages) {
    const ecosystem = baseEcosystem(pkg.ecosystem);
    present.set(ecosystem, (present.get(ecosystem) ?? 0) + 1);
  }
  return [...present]
    .filter(([ecosystem]) => (database.advisories[ecosystem] ?? 0) === 0)
    .map(([ecosystem, count]) => ({ ecosystem, packages: count }))
    .sort((a, b) => a.ecosystem.localeCompare(b.ecosystem));
}

export async function scanBom(bom: unknown, store: AdvisoryStore): Promise<ScanResult> {
  const startedOn = new Date();
  const { packages, warnings } = packagesFromBom(bom);
  const scanned = await scanPackages(packages, store);
  const database = await store.coverage();
  return {
    findings: scanned.findings,
    warnings: [...warnings, ...scanned.warnings],
    packagesScanned: packages.length,
    database,
    notScanned: unscannedEcosystems(packages, database),
    startedOn,
    finishedOn: new Date(),
  };
}
