import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { filePath, flag, oneOf, text } from "../options.js";
import {
  MemoryAdvisoryStore,
  compareSeverity,
  loadAdvisories,
  readScanInput,
  scanBom,
  type Finding,
  type ScanResult,
} from "../../evidence/vulns/index.js";

export const vulnsCommand = defineCommand({
  name: "vulns",
  args: {
    input: argument(text, "a folder (its SBOM is generated from the lockfiles) or a CycloneDX JSON file"),
  },
  options: {
    db: option(
      "--db <path>",
      "OSV advisories: a .json file, a folder of them, or an osv.dev all.zip",
      filePath,
    ),
    failOn: option(
      "--fail-on <severity>",
      "exit 1 when a finding is at or above this severity: none, low, medium, high or critical",
      oneOf(["none", "low", "medium", "high", "critical"], { listedInHelp: false }).prefault("high"),
    ),
    allowUnscanned: option(
      "--allow-unscanned",
      "exit 0 even when an ecosystem of the input had no advisories to check against",
      flag,
    ),
    json: option(
      "--json",
      'print {"findings": [...], "notScanned": [...]} sorted by severity, then id',
      flag,
    ),
  },
  async run({ input }, options, context) {
    const { failOn } = options;
    const sbom = await readScanInput(input);
    const loaded = await loadAdvisories(options.db);
    const store = new MemoryAdvisoryStore();
    await store.put(loaded.advisories);
    const scan = await scanBom(sbom.bom, store);
    for (const warning of [...sbom.warnings, ...loaded.warnings, ...scan.warnings]) {
      context.stderr(`warning: ${warning}\n`);
    }
    if (options.json) {
      const findings = scan.findings.map(({ id, aliases, package: pkg, severity, score, fixed }) => ({
        id,
        aliases,
        package: pkg,
        severity,
        score,
        fixed,
      }));
      printJson(context, { findings, notScanned: scan.notScanned, failOn });
    } else {
      context.stdout(table(scan, store.size));
    }
    const failing = scan.findings.filter((finding) => compareSeverity(finding.severity, failOn) >= 0);
    const unscanned = options.allowUnscanned ? [] : scan.notScanned;
    if (!options.json) {
      for (const entry of scan.notScanned) {
        context.stdout(
          `not scanned: ${entry.ecosystem} (${entry.packages} packages): the database has no ${entry.ecosystem} advisories\n`,
        );
      }
      context.stdout(
        failing.length === 0 && unscanned.length === 0
          ? `passed: nothing at or above ${failOn}\n`
          : `failed: ${failing.length} finding${failing.length === 1 ? "" : "s"} at or above ${failOn}` +
              `${unscanned.length === 0 ? "" : `, ${unscanned.length} ecosystem${unscanned.length === 1 ? "" : "s"} not scanned`}\n`,
      );
    }
    return failing.length === 0 && unscanned.length === 0 ? 0 : 1;
  },
});

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
