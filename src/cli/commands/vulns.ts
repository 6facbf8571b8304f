import type { CliCommand } from "../command.js";
import { UserError } from "../../errors.js";
import {
  MemoryAdvisoryStore,
  loadAdvisories,
  readScanInput,
  scanBom,
  type Finding,
  type ScanResult,
} from "../../evidence/vulns/index.js";

export const vulnsCommand: CliCommand = {
  name: "vulns",
  summary: "match a folder's dependencies (or a CycloneDX SBOM) against OSV advisories",
  configure: (command) =>
    command
      .argument("<input>", "a folder (its SBOM is generated from the lockfiles) or a CycloneDX JSON file")
      .requiredOption("--db <path>", "OSV advisories: a .json file, a folder of them, or an osv.dev all.zip")
      .option("--json", 'print {"findings": [...]} sorted by severity, then id'),
  async run(args, options, context) {
    const input = args[0];
    if (input === undefined) throw new UserError("name a folder or a CycloneDX JSON file to scan");
    if (typeof options.db !== "string") throw new UserError("--db <path> is required");
    const sbom = await readScanInput(input);
    const loaded = await loadAdvisories(options.db);
    const store = new MemoryAdvisoryStore();
    await store.put(loaded.advisories);
    const scan = await scanBom(sbom.bom, store);
    for (const warning of [...sbom.warnings, ...loaded.warnings, ...scan.warnings]) {
      context.stderr(`warning: ${warning}\n`);
    }
    if (options.json === true) {
      const findings = scan.findings.map(({ id, aliases, package: pkg, severity, score, fixed }) => ({
        id,
        aliases,
        package: pkg,
        severity,
        score,
        fixed,
      }));
      context.stdout(`${JSON.stringify({ findings }, null, 2)}\n`);
    } else {
      context.stdout(table(scan, store.size));
    }
    // findings are reported, not judged: the stage policy decides what blocks a deploy
    return 0;
  },
};

function table(scan: ScanResult, advisoryCount: number): string {
  const scanned = `${scan.packagesScanned} ${scan.packagesScanned === 1 ? "package" : "packages"} against ${advisoryCount} ${advisoryCount === 1 ? "advisory" : "advisories"}`;
  if (scan.findings.length === 0) return `no known vulnerabilities (${scanned})\n`;
  const header = ["SEVERITY", "SCORE", "ID", "PACKAGE", "INSTALLED", "FIXED IN", "ALIASES"];
  const rows = scan.findings.map((finding: Finding) => [
    finding.severity,
    finding.score === null ? "-" : finding.score.toFixed(1),
    finding.id,
    `${finding.package.name} (${finding.package.ecosystem})`,
    finding.package.version,
    finding.fixed ?? "-",
    finding.aliases.join(", ") || "-",
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd();
  const count = `${scan.findings.length} ${scan.findings.length === 1 ? "finding" : "findings"}`;
  return `${[line(header), ...rows.map(line)].join("\n")}\n\n${count} (${scanned})\n`;
}
