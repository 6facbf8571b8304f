import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assessSeverity, buildFindings, type AdvisoryMatch } from "./findings.js";
import type { Osv } from "./osv.js";
import type { PackageVersion } from "./packages.js";

const requests: PackageVersion = {
  ecosystem: "PyPI",
  name: "requests",
  version: "2.28.1",
  purl: "pkg:pypi/requests@2.28.1",
};

function advisory(id: string, aliases: string[], extra: Partial<Osv> = {}): Osv {
  return {
    id,
    aliases,
    affected: [{ package: { ecosystem: "PyPI", name: "requests" }, ranges: [] }],
    ...extra,
  };
}

const match = (osv: Osv, fixedAbove: string[] = [], pkg = requests): AdvisoryMatch => ({
  pkg,
  advisory: osv,
  fixedAbove,
});

describe("findings", () => {
  it("merges advisories that alias each other into one finding with every id", () => {
    const pysec = advisory("PYSEC-2023-74", ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"]);
    const ghsa = advisory("GHSA-j8r2-6x86-q33q", ["CVE-2023-32681"], {
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N" }],
    });
    const findings = buildFindings([match(pysec, ["2.31.0"]), match(ghsa, ["2.31.0"])]);
    assert.equal(findings.length, 1);
    assert.deepEqual(findings[0], {
      id: "GHSA-j8r2-6x86-q33q",
      aliases: ["CVE-2023-32681", "PYSEC-2023-74"],
      package: { ecosystem: "PyPI", name: "requests", version: "2.28.1", purl: "pkg:pypi/requests@2.28.1" },
      severity: "medium",
      score: 6.1,
      fixed: "2.31.0",
      summary: null,
    });
  });

  it("merges through a shared alias, transitively", () => {
    const a = advisory("OSV-A", ["CVE-1"]);
    const b = advisory("OSV-B", ["CVE-1", "CVE-2"]);
    const c = advisory("OSV-C", ["CVE-2"]);
    const unrelated = advisory("OSV-D", ["CVE-3"]);
    const findings = buildFindings([match(a), match(unrelated), match(c), match(b)]);
    assert.deepEqual(
      findings.map((finding) => [finding.id, finding.aliases]),
      [
        ["OSV-A", ["CVE-1", "CVE-2", "OSV-B", "OSV-C"]],
        ["OSV-D", ["CVE-3"]],
      ],
    );
  });

  it("keeps the same issue in two installed packages as two findings", () => {
    const osv = advisory("GHSA-x", []);
    const older = { ...requests, version: "2.20.0", purl: "pkg:pypi/requests@2.20.0" };
    assert.equal(buildFindings([match(osv, [], requests), match(osv, [], older)]).length, 2);
  });

  it("suggests the lowest fixed version above the installed one, in the ecosystem's order", () => {
    const osv = advisory("GHSA-x", []);
    const findings = buildFindings([match(osv, ["2.31.0", "2.30.1", "2.100.0"])]);
    assert.equal(findings[0]?.fixed, "2.30.1");
    assert.equal(buildFindings([match(osv, [])])[0]?.fixed, null);
  });

  it("sorts by severity, then id", () => {
    const low = advisory("A-low", [], { database_specific: { severity: "LOW" } });
    const critical = advisory("Z-critical", [], { database_specific: { severity: "CRITICAL" } });
    const unknown = advisory("B-unknown", []);
    const high2 = advisory("C-high", [], { database_specific: { severity: "HIGH" } });
    const high1 = advisory("B-high", [], { database_specific: { severity: "HIGH" } });
    const ids = buildFindings([low, critical, unknown, high2, high1].map((osv) => match(osv))).map(
      (finding) => finding.id,
    );
    assert.deepEqual(ids, ["Z-critical", "B-high", "C-high", "A-low", "B-unknown"]);
  });
});

describe("severity", () => {
  it("scores a CVSS v3 vector, preferring the package's own over the record's", () => {
    const osv: Osv = {
      id: "X",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
      affected: [
        {
          package: { ecosystem: "PyPI", name: "requests" },
          severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N" }],
        },
      ],
    };
    assert.deepEqual(assessSeverity(osv, requests), { severity: "medium", score: 5.5 });
  });

  it("falls back to GitHub's database_specific label (MODERATE is medium)", () => {
    const osv = advisory("GHSA-x", [], {
      severity: [
        { type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" },
      ],
      database_specific: { severity: "MODERATE" },
    });
    assert.deepEqual(assessSeverity(osv, requests), { severity: "medium", score: null });
    assert.deepEqual(assessSeverity(advisory("GO-x", []), requests), { severity: "unknown", score: null });
  });
});
