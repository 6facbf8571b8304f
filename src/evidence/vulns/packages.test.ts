import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalisePackageName, packageFromPurl, packageKey } from "./packages.js";

describe("package URLs", () => {
  const cases: [string, { ecosystem: string; name: string; version: string }][] = [
    ["pkg:npm/lodash@4.17.15", { ecosystem: "npm", name: "lodash", version: "4.17.15" }],
    ["pkg:npm/%40babel/core@7.0.0", { ecosystem: "npm", name: "@babel/core", version: "7.0.0" }],
    ["pkg:pypi/requests@2.28.1", { ecosystem: "PyPI", name: "requests", version: "2.28.1" }],
    [
      "pkg:golang/golang.org/x/net@v0.0.0-20220826154423-83b083e8dc8b",
      { ecosystem: "Go", name: "golang.org/x/net", version: "v0.0.0-20220826154423-83b083e8dc8b" },
    ],
    [
      "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
      { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core", version: "2.14.1" },
    ],
    ["pkg:pypi/django@1.11.1#subpath", { ecosystem: "PyPI", name: "django", version: "1.11.1" }],
  ];
  for (const [purl, expected] of cases) {
    it(`reads ${purl}`, () => {
      assert.deepEqual(packageFromPurl(purl), { ok: true, pkg: { ...expected, purl } });
    });
  }

  it("reports purls it cannot use", () => {
    assert.match(String(errorOf("pkg:npm/lodash")), /no version/);
    assert.match(String(errorOf("pkg:cargo/serde@1.0.0")), /unsupported package type "cargo"/);
    assert.match(String(errorOf("npm/lodash@1")), /not a package URL/);
    assert.match(String(errorOf("pkg:npm/%E0%A4%A@1")), /percent-encoding/);
  });

  it("normalises PyPI names as PEP 503 does, and leaves others alone", () => {
    assert.equal(normalisePackageName("PyPI", "Flask_SQLAlchemy"), "flask-sqlalchemy");
    assert.equal(normalisePackageName("PyPI", "zope.interface"), "zope-interface");
    assert.equal(normalisePackageName("npm", "JSONStream"), "JSONStream");
    assert.equal(packageKey("PyPI", "Requests"), packageKey("pypi", "requests"));
  });
});

function errorOf(purl: string): string | undefined {
  const parsed = packageFromPurl(purl);
  return parsed.ok ? undefined : parsed.error;
}
