import assert from "node:assert/strict";
import { test } from "node:test";
import { findDrift } from "./drift.js";
import { parseRecallQuery, versionMatches } from "./query.js";

const queries = [
  { text: "pkg:npm/lodash@<4.17.21", ecosystem: "npm", name: "lodash", constraints: [["<", "4.17.21"]] },
  {
    text: "pkg:npm/%40babel/traverse@<7.23.2",
    ecosystem: "npm",
    name: "@babel/traverse",
    constraints: [["<", "7.23.2"]],
  },
  {
    text: "pkg:pypi/Django_REST@>=4.0,<4.2.8",
    ecosystem: "PyPI",
    name: "django-rest",
    constraints: [
      [">=", "4.0"],
      ["<", "4.2.8"],
    ],
  },
  {
    text: "pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1",
    ecosystem: "Maven",
    name: "org.apache.logging.log4j:log4j-core",
    constraints: [["<", "2.17.1"]],
  },
  {
    text: "pkg:golang/golang.org/x/net@<v0.17.0",
    ecosystem: "Go",
    name: "golang.org/x/net",
    constraints: [["<", "v0.17.0"]],
  },
  { text: "pkg:npm/lodash@4.17.20", ecosystem: "npm", name: "lodash", constraints: [["=", "4.17.20"]] },
  { text: "pkg:npm/lodash", ecosystem: "npm", name: "lodash", constraints: [] },
];

for (const q of queries) {
  test(`reads ${q.text}`, () => {
    const parsed = parseRecallQuery(q.text);
    assert.equal(parsed.kind, "package");
    if (parsed.kind !== "package") return;
    assert.equal(parsed.ecosystem, q.ecosystem);
    assert.equal(parsed.name, q.name);
    assert.deepEqual(
      parsed.constraints.map((c) => [c.operator, c.version]),
      q.constraints,
    );
  });
}

test("an advisory id is a query of its own", () => {
  assert.deepEqual(parseRecallQuery("GHSA-35jh-r3h4-6jhm"), { kind: "advisory", id: "GHSA-35jh-r3h4-6jhm" });
  assert.deepEqual(parseRecallQuery("CVE-2021-44228"), { kind: "advisory", id: "CVE-2021-44228" });
});

test("anything else is a user error", () => {
  assert.throws(() => parseRecallQuery("lodash"), /neither a package URL/);
});

const garbageRanges: [string, RegExp][] = [
  ["pkg:npm/lodash@garbage!!", /"garbage!!" is not a npm version/],
  ["pkg:npm/lodash@<<4.17.21", /"<4\.17\.21" is not a npm version/],
  ["pkg:npm/lodash@>=1.0.0,,<2.0.0", /cannot read the version range/],
  ["pkg:npm/lodash@<4.17.21 and more", /cannot read the version range/],
  ["pkg:pypi/django@<not.a.version!", /is not a PyPI version/],
  ["pkg:generic/thing@<1.0", /unsupported package type "generic"/],
];
for (const [query, message] of garbageRanges) {
  test(`a range that cannot be read is refused, never an empty answer: ${query}`, () => {
    assert.throws(() => parseRecallQuery(query), message);
  });
}

test("a partial npm bound reads as npm reads it: <2 is <2.0.0", () => {
  const query = parseRecallQuery("pkg:npm/lodash@>=1.4,<2");
  assert.ok(query.kind === "package");
  assert.deepEqual(query.constraints, [
    { operator: ">=", version: "1.4.0" },
    { operator: "<", version: "2.0.0" },
  ]);
});

const versions: [string, string, string, boolean][] = [
  ["npm", "4.17.20", "<4.17.21", true],
  ["npm", "4.17.21", "<4.17.21", false],
  ["npm", "4.17.21-rc.1", "<4.17.21", true],
  ["PyPI", "4.2.7", ">=4.0,<4.2.8", true],
  ["PyPI", "4.2.8rc1", ">=4.0,<4.2.8", true],
  ["PyPI", "3.2", ">=4.0,<4.2.8", false],
  ["Maven", "2.17.0", "<2.17.1", true],
  ["Maven", "2.17.1", "<2.17.1", false],
  ["Maven", "2.17.1-SNAPSHOT", "<2.17.1", true],
  ["Go", "v0.16.0", "<v0.17.0", true],
  ["Go", "v0.0.0-20230101000000-abcdefabcdef", "<v0.17.0", true],
];

for (const [ecosystem, version, range, expected] of versions) {
  test(`${ecosystem} ${version} ${expected ? "is" : "is not"} in ${range}`, () => {
    const parsed = parseRecallQuery(
      `pkg:${ecosystem === "Go" ? "golang" : ecosystem.toLowerCase()}/x/y@${range}`,
    );
    assert.equal(parsed.kind, "package");
    if (parsed.kind === "package")
      assert.equal(versionMatches(ecosystem, version, parsed.constraints), expected);
  });
}

test("the same purl with two different hashes across artifacts is drift; the same hash is not", () => {
  const drift = findDrift([
    {
      digest: "sha256:a",
      service: "cart",
      purl: "pkg:npm/left-pad@1.3.0",
      hashes: [{ alg: "SHA-512", content: "aa" }],
    },
    {
      digest: "sha256:b",
      service: "shop",
      purl: "pkg:npm/left-pad@1.3.0",
      hashes: [{ alg: "SHA-512", content: "bb" }],
    },
    {
      digest: "sha256:c",
      service: "shop",
      purl: "pkg:npm/ok@1.0.0",
      hashes: [{ alg: "SHA-512", content: "cc" }],
    },
    {
      digest: "sha256:d",
      service: "cart",
      purl: "pkg:npm/ok@1.0.0",
      hashes: [{ alg: "SHA-512", content: "cc" }],
    },
  ]);
  assert.equal(drift.length, 1);
  assert.equal(drift[0]?.purl, "pkg:npm/left-pad@1.3.0");
  assert.deepEqual(
    drift[0]?.variants.map((v) => v.artifacts.map((a) => a.digest)),
    [["sha256:a"], ["sha256:b"]],
  );
});
