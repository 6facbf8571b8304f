import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  NOT_PROOF_CAVEAT,
  NOTHING_RECORDED_CAVEAT,
  unusedPackages,
  type PackageLocation,
  type UsageComponent,
} from "./unused-packages.js";

const ROOT = "/srv/app";
const SITE = `${ROOT}/venv/lib/python3.11/site-packages`;

function component(
  ecosystem: UsageComponent["ecosystem"],
  name: string,
  version: string,
  purl: string,
  scope: UsageComponent["scope"] = "required",
): UsageComponent {
  return { ecosystem, name, version, purl, scope };
}

const express = component("npm", "express", "4.18.2", "pkg:npm/express@4.18.2");
const acmeUtil = component("npm", "@acme/util", "1.0.0", "pkg:npm/%40acme/util@1.0.0");
const topMs = component("npm", "ms", "2.0.0", "pkg:npm/ms@2.0.0");
const nestedMs = component("npm", "ms", "2.1.3", "pkg:npm/ms@2.1.3");
const leftPad = component("npm", "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0");
const eslint = component("npm", "eslint", "9.0.0", "pkg:npm/eslint@9.0.0", "optional");
const pyyaml = component("pypi", "pyyaml", "6.0.1", "pkg:pypi/pyyaml@6.0.1");
const six = component("pypi", "six", "1.16.0", "pkg:pypi/six@1.16.0");
const slf4j = component("maven", "org.slf4j:slf4j-api", "2.0.9", "pkg:maven/org.slf4j/slf4j-api@2.0.9");
const goModule = component(
  "golang",
  "github.com/pkg/errors",
  "v0.9.1",
  "pkg:golang/github.com/pkg/errors@v0.9.1",
);
const components = [express, acmeUtil, topMs, nestedMs, leftPad, eslint, pyyaml, six, slf4j, goModule];

const located = new Map<string, PackageLocation>([
  [express.purl, { paths: [`${ROOT}/node_modules/express`], bytes: 200 }],
  [topMs.purl, { paths: [`${ROOT}/node_modules/ms`], bytes: 10 }],
  [nestedMs.purl, { paths: [`${ROOT}/node_modules/debug/node_modules/ms`], bytes: 12 }],
  [pyyaml.purl, { paths: [`${SITE}/yaml/__init__.py`, `${SITE}/_yaml/__init__.py`], bytes: 700 }],
]);

function loadedBy(file: string, packageLocations: ReadonlyMap<string, PackageLocation>): string[] {
  return unusedPackages({
    components,
    loadedFiles: [file],
    artifactRoot: ROOT,
    packageLocations,
    artifactBytes: 1,
  }).loaded;
}

describe("a loaded file belongs to the package that holds it", () => {
  const cases: {
    name: string;
    file: string;
    locations?: ReadonlyMap<string, PackageLocation>;
    owners: string[];
  }[] = [
    {
      name: "an npm package by its folder name",
      file: `${ROOT}/node_modules/express/index.js`,
      owners: [express.purl],
    },
    {
      name: "a scoped npm package by both segments",
      file: `${ROOT}/node_modules/@acme/util/lib/index.js`,
      owners: [acmeUtil.purl],
    },
    {
      name: "a nested node_modules package, not the one holding it, by its location",
      file: `${ROOT}/node_modules/debug/node_modules/ms/index.js`,
      locations: located,
      owners: [nestedMs.purl],
    },
    {
      name: "a nested package without locations: every version of that name, rather than a guess",
      file: `${ROOT}/node_modules/debug/node_modules/ms/index.js`,
      owners: [topMs.purl, nestedMs.purl],
    },
    {
      name: "a package pnpm keeps under .pnpm, by its innermost node_modules",
      file: `${ROOT}/node_modules/.pnpm/express@4.18.2/node_modules/express/lib/router.js`,
      owners: [express.purl],
    },
    {
      name: "a package the SBOM does not list, nested in one it does, is not the outer one's",
      file: `${ROOT}/node_modules/express/node_modules/unlisted/index.js`,
      locations: located,
      owners: [],
    },
    {
      name: "a path with dot segments, by where it leads",
      file: `${ROOT}/node_modules/express/../left-pad/index.js`,
      owners: [leftPad.purl],
    },
    { name: "the app's own code belongs to no package", file: `${ROOT}/server.js`, owners: [] },
    {
      name: "a file outside the artifact (npm's own, the runtime's) does not count",
      file: "/usr/lib/node_modules/npm/node_modules/ms/index.js",
      owners: [],
    },
    {
      name: "a file of a folder that merely starts like the artifact's does not count",
      file: `${ROOT}-old/node_modules/express/index.js`,
      owners: [],
    },
    {
      name: "a Python module whose name differs from its distribution, by the RECORD files",
      file: `${SITE}/yaml/__init__.py`,
      locations: located,
      owners: [pyyaml.purl],
    },
    {
      name: "a single-file Python module under site-packages, by name",
      file: `${SITE}/six.py`,
      owners: [six.purl],
    },
    {
      name: "a single-file Python module's bytecode in the top-level __pycache__",
      file: `${SITE}/__pycache__/six.cpython-311.pyc`,
      owners: [six.purl],
    },
    {
      name: "a jar by its <artifact>-<version>.jar name",
      file: `${ROOT}/lib/slf4j-api-2.0.9.jar`,
      owners: [slf4j.purl],
    },
    {
      name: "a jar nested in the app's jar",
      file: `${ROOT}/app.jar!/BOOT-INF/lib/slf4j-api-2.0.9.jar`,
      owners: [slf4j.purl],
    },
    { name: "a jar of another version is not this one", file: `${ROOT}/lib/slf4j-api-2.0.8.jar`, owners: [] },
    { name: "a class folder belongs to no package", file: `${ROOT}/classes`, owners: [] },
  ];
  for (const { name, file, locations, owners } of cases) {
    test(name, () => assert.deepEqual(loadedBy(file, locations ?? new Map()), [...owners].sort()));
  }
});

describe("the report", () => {
  test("lists the required packages nothing was loaded of, heaviest first, with their share of the artifact", () => {
    const report = unusedPackages({
      components,
      loadedFiles: [
        `${ROOT}/server.js`,
        `${ROOT}/node_modules/express/index.js`,
        `${ROOT}/node_modules/debug/node_modules/ms/index.js`,
        `${SITE}/yaml/__init__.py`,
      ],
      artifactRoot: `${ROOT}/`,
      packageLocations: new Map([
        ...located,
        [acmeUtil.purl, { paths: [`${ROOT}/node_modules/@acme/util`], bytes: 300 }],
        [slf4j.purl, { paths: [`${ROOT}/lib/slf4j-api-2.0.9.jar`], bytes: 300 }],
        [eslint.purl, { paths: [`${ROOT}/node_modules/eslint`], bytes: 5000 }],
      ]),
      artifactBytes: 4000,
    });
    assert.equal(report.recorded, true);
    assert.deepEqual(report.loaded, [express.purl, nestedMs.purl, pyyaml.purl].sort());
    // Dev-only eslint is out of the runtime already, and Go modules are never loaded as files
    assert.deepEqual(report.neverLoaded, [
      { purl: slf4j.purl, name: "org.slf4j:slf4j-api", version: "2.0.9", bytes: 300 },
      { purl: acmeUtil.purl, name: "@acme/util", version: "1.0.0", bytes: 300 },
      { purl: topMs.purl, name: "ms", version: "2.0.0", bytes: 10 },
      { purl: leftPad.purl, name: "left-pad", version: "1.3.0", bytes: 0 },
      { purl: six.purl, name: "six", version: "1.16.0", bytes: 0 },
    ]);
    assert.equal(report.neverLoadedBytes, 610);
    assert.equal(report.shareOfArtifactPct, 15.3);
    assert.equal(report.caveat, NOT_PROOF_CAVEAT);
    assert.match(report.caveat, /candidates for removal, not proof/);
  });

  test("judges nothing when nothing was recorded inside the artifact", () => {
    for (const loadedFiles of [[], ["/usr/lib/node_modules/npm/index.js"]]) {
      const report = unusedPackages({
        components,
        loadedFiles,
        artifactRoot: ROOT,
        packageLocations: located,
        artifactBytes: 4000,
      });
      assert.deepEqual(report, {
        recorded: false,
        loaded: [],
        neverLoaded: [],
        neverLoadedBytes: 0,
        shareOfArtifactPct: 0,
        caveat: NOTHING_RECORDED_CAVEAT,
      });
    }
  });

  test("gives no share of an artifact of unknown size", () => {
    const report = unusedPackages({
      components: [leftPad],
      loadedFiles: [`${ROOT}/server.js`],
      artifactRoot: ROOT,
      packageLocations: new Map([[leftPad.purl, { paths: [`${ROOT}/node_modules/left-pad`], bytes: 50 }]]),
      artifactBytes: 0,
    });
    assert.equal(report.neverLoadedBytes, 50);
    assert.equal(report.shareOfArtifactPct, 0);
  });
});
