import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sbomFixtures } from "../schema.test.helpers.js";
import type { EcosystemReading } from "../types.js";
import { npmEcosystem } from "./npm.js";

const readLock = (folder: string): Promise<EcosystemReading> =>
  npmEcosystem.read(join(sbomFixtures, folder, "package-lock.json"));

const purls = (reading: EcosystemReading): string[] => reading.components.map((c) => c.purl).sort();

// The same small project locked by npm 11 as lockfileVersion 1, 2 and 3 (test/fixtures/sbom/npm-v*)
const expectedPurls = [
  "pkg:npm/%40sindresorhus/is@4.6.0",
  "pkg:npm/%40types/ms@0.7.34",
  "pkg:npm/debug@4.3.4",
  "pkg:npm/is-number@7.0.0",
  "pkg:npm/ms@2.0.0",
  "pkg:npm/ms@2.1.2",
  "pkg:npm/ms@2.1.3",
];

describe("npm package-lock.json", () => {
  for (const version of [1, 2, 3]) {
    it(`reads lockfileVersion ${version} into the same components`, async () => {
      const reading = await readLock(`npm-v${version}`);
      assert.deepEqual(purls(reading), expectedPurls);
      assert.deepEqual(reading.warnings, []);
    });
  }

  it("resolves an npm: alias to the real package, and leaves the workspace package out", async () => {
    for (const version of [1, 3]) {
      const reading = await readLock(`npm-v${version}`);
      const names = reading.components.map((c) => c.name);
      assert.ok(!names.includes("legacy-ms"));
      assert.ok(!names.includes("@demo/helper"));
      assert.ok(reading.components.some((c) => c.purl === "pkg:npm/ms@2.0.0"));
    }
  });

  it("marks dev dependencies optional, everything else required", async () => {
    for (const version of [1, 2, 3]) {
      const reading = await readLock(`npm-v${version}`);
      const scopes = Object.fromEntries(reading.components.map((c) => [c.purl, c.scope]));
      assert.equal(scopes["pkg:npm/is-number@7.0.0"], "optional");
      assert.equal(scopes["pkg:npm/debug@4.3.4"], "required");
    }
  });

  it("converts the integrity SRI to a hex SHA-512", async () => {
    const reading = await readLock("npm-v3");
    const debug = reading.components.find((c) => c.name === "debug");
    assert.deepEqual(debug?.hashes, [
      {
        alg: "SHA-512",
        content:
          "3d15851ee494dde0ed4093ef9cd63b25c91eb758f4b793ae3ac1733cfcec7a40f9d9997ca947c520f122b305ea22f1d61951ce817fbb1bfbc234d85e870c5f91",
      },
    ]);
  });

  it("resolves dependencies to the nearest installed copy, as Node does", async () => {
    for (const version of [1, 2, 3]) {
      const reading = await readLock(`npm-v${version}`);
      const edges = Object.fromEntries(reading.dependencies.map((edge) => [edge.from, edge.to]));
      assert.deepEqual(edges["pkg:npm/debug@4.3.4"], ["pkg:npm/ms@2.1.2"]);
    }
  });

  it("names the project's direct dependencies, including the workspace package's", async () => {
    const reading = await readLock("npm-v3");
    assert.deepEqual(reading.directDependencies.sort(), [
      "pkg:npm/%40sindresorhus/is@4.6.0",
      "pkg:npm/%40types/ms@0.7.34",
      "pkg:npm/debug@4.3.4",
      "pkg:npm/is-number@7.0.0",
      "pkg:npm/ms@2.0.0",
      "pkg:npm/ms@2.1.3",
    ]);
  });

  it("keeps bundled dependencies as components and says they came bundled", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waybill-npm-"));
    try {
      const lockfile = {
        name: "app",
        lockfileVersion: 3,
        packages: {
          "": { name: "app", dependencies: { carrier: "1.0.0" } },
          "node_modules/carrier": {
            version: "1.0.0",
            bundleDependencies: ["inner"],
            dependencies: { inner: "2.0.0" },
          },
          "node_modules/carrier/node_modules/inner": { version: "2.0.0", inBundle: true },
          "node_modules/local": { resolved: "packages/local", link: true },
          "node_modules/from-git": { resolved: "git+ssh://git@github.com/o/r.git#abc" },
        },
      };
      await writeFile(join(dir, "package-lock.json"), JSON.stringify(lockfile));
      const reading = await npmEcosystem.read(join(dir, "package-lock.json"));
      const inner = reading.components.find((c) => c.name === "inner");
      assert.deepEqual(inner?.properties, [{ name: "cdx:npm:package:bundled", value: "true" }]);
      assert.deepEqual(reading.dependencies, [
        { from: "pkg:npm/carrier@1.0.0", to: ["pkg:npm/inner@2.0.0"] },
      ]);
      assert.deepEqual(purls(reading), ["pkg:npm/carrier@1.0.0", "pkg:npm/inner@2.0.0"]);
      assert.match(reading.warnings.join("\n"), /from-git has no version/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
