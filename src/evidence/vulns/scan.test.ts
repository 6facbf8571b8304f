import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { fixturesDir } from "../../testing/paths.js";
import { loadAdvisories } from "./load.js";
import { vulnsPredicate, vulnsPredicateType } from "./predicate.js";
import { packagesFromBom, readScanInput, scanBom } from "./scan.js";
import { MemoryAdvisoryStore } from "./store.js";

const vulnsFixtures = join(fixturesDir, "vulns");

async function fixtureStore(): Promise<MemoryAdvisoryStore> {
  const store = new MemoryAdvisoryStore();
  await store.put((await loadAdvisories(join(vulnsFixtures, "advisories"))).advisories);
  return store;
}

describe("scanning an SBOM", () => {
  it("finds the affected components of a CycloneDX file and leaves the fixed ones alone", async () => {
    const { bom } = await readScanInput(join(vulnsFixtures, "sbom", "app.cdx.json"));
    const scan = await scanBom(bom, await fixtureStore());
    assert.deepEqual(scan.warnings, []);
    assert.equal(scan.packagesScanned, 12);
    assert.deepEqual(
      scan.findings.map((finding) => `${finding.id} ${finding.package.name}@${finding.package.version}`),
      [
        "GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core@2.14.1",
        "GHSA-xvch-5gv4-984h minimist@1.2.5",
        "GHSA-35jh-r3h4-6jhm lodash@4.17.15",
        "GHSA-p6mc-m468-83gw lodash@4.17.15",
        "GHSA-c2qf-rxjj-qqgw semver@7.5.1",
        "GHSA-j8r2-6x86-q33q requests@2.28.1",
        "GO-2020-0015 golang.org/x/text@v0.3.2",
        "GO-2022-0969 golang.org/x/net@v0.0.0-20220826154423-83b083e8dc8b",
      ],
    );
  });

  it("generates the SBOM of a folder from its lockfile", async () => {
    const { bom } = await readScanInput(join(vulnsFixtures, "npm-app"));
    const scan = await scanBom(bom, await fixtureStore());
    assert.deepEqual(
      scan.findings.map((finding) => [finding.id, finding.package.version, finding.fixed]),
      [
        // the nested minimist@0.0.8 under mkdirp, not the top-level 1.2.6
        ["GHSA-xvch-5gv4-984h", "0.0.8", "0.2.4"],
        ["GHSA-35jh-r3h4-6jhm", "4.17.15", "4.17.21"],
        ["GHSA-p6mc-m468-83gw", "4.17.15", "4.17.20"],
        ["GHSA-c2qf-rxjj-qqgw", "7.5.1", "7.5.2"],
      ],
    );
  });

  it("reads purls from nested components, reports bad ones, and rejects what is not CycloneDX", () => {
    const bom = {
      bomFormat: "CycloneDX",
      components: [
        {
          purl: "pkg:npm/a@1.0.0",
          components: [{ purl: "pkg:npm/%40scope/b@2.0.0" }, { purl: "pkg:npm/a@1.0.0" }],
        },
        { name: "no-purl" },
        { purl: "pkg:cargo/serde@1.0.0" },
        { purl: "pkg:npm/c" },
      ],
    };
    const { packages, warnings } = packagesFromBom(bom);
    assert.deepEqual(
      packages.map((pkg) => pkg.name),
      ["a", "@scope/b"],
    );
    assert.deepEqual(warnings, ["no version in pkg:npm/c"]);
    assert.throws(() => packagesFromBom({ spdxVersion: "SPDX-2.3" }), UserError);
  });
});

describe("in-toto vulns v0.2 predicate", () => {
  it("lists each finding with its CVSS score and qualitative severity", async () => {
    const { bom } = await readScanInput(join(vulnsFixtures, "sbom", "app.cdx.json"));
    const scan = await scanBom(bom, await fixtureStore());
    const predicate = vulnsPredicate(scan, {
      uri: "https://github.com/waybill/waybill",
      version: "0.1.0",
      db: { uri: "https://osv.dev" },
    });
    assert.equal(vulnsPredicateType, "https://in-toto.io/attestation/vulns/v0.2");
    assert.deepEqual(predicate.scanner.db, {
      uri: "https://osv.dev",
      lastUpdate: new Date(scan.database.newestModified ?? "").toISOString(),
      advisories: scan.database.advisories,
    });
    assert.ok(Object.keys(scan.database.advisories).length > 0);
    assert.deepEqual(predicate.scanner.result[0], {
      id: "GHSA-jfh8-c2jp-5v3q",
      severity: [
        { method: "CVSS_V3", score: "10.0" },
        { method: "qualitative", score: "critical" },
      ],
    });
    assert.deepEqual(predicate.scanner.result.at(-1), {
      id: "GO-2022-0969",
      severity: [{ method: "qualitative", score: "unknown" }],
    });
    assert.equal(predicate.metadata.scanStartedOn, scan.startedOn.toISOString());
    assert.equal(predicate.metadata.scanFinishedOn, scan.finishedOn.toISOString());
    assert.deepEqual(predicate.notScanned, scan.notScanned);
  });

  it("names each ecosystem the SBOM has packages in but the database has no advisories for", async () => {
    const { bom } = await readScanInput(join(vulnsFixtures, "sbom", "app.cdx.json"));
    const empty = await scanBom(bom, new MemoryAdvisoryStore());
    assert.deepEqual(empty.findings, []);
    assert.ok(empty.notScanned.length > 0, "nothing was scanned");
    assert.equal(
      empty.notScanned.reduce((sum, entry) => sum + entry.packages, 0),
      empty.packagesScanned,
    );
    assert.deepEqual(empty.database, { advisories: {}, newestModified: null });
    const covered = await scanBom(bom, await fixtureStore());
    assert.ok(covered.notScanned.length < empty.notScanned.length);
  });
});
