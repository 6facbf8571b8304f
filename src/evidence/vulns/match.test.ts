import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixturesDir } from "../../testing/paths.js";
import { matchAdvisory } from "./match.js";
import { parseOsv, type Osv, type OsvEvent, type OsvRange } from "./osv.js";
import type { PackageVersion } from "./packages.js";

const advisoriesDir = join(fixturesDir, "vulns", "advisories");

function fixture(path: string): Osv {
  const parsed = parseOsv(JSON.parse(readFileSync(join(advisoriesDir, path), "utf8")));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.advisory;
}

const npm = (name: string, version: string): PackageVersion => ({ ecosystem: "npm", name, version });

function advisoryWith(ranges: OsvRange[], extra: Partial<Osv> = {}, versions?: string[]): Osv {
  return {
    id: "TEST-1",
    affected: [{ package: { ecosystem: "npm", name: "pkg" }, ranges, ...(versions ? { versions } : {}) }],
    ...extra,
  };
}

const ecosystemRange = (...events: OsvEvent[]): OsvRange => ({ type: "ECOSYSTEM", events });

describe("OSV evaluation rules", () => {
  const cases: { name: string; events: OsvEvent[]; affected: string[]; unaffected: string[] }[] = [
    {
      name: 'introduced "0" alone affects every version',
      events: [{ introduced: "0" }],
      affected: ["0.0.1", "1.0.0-alpha", "99.0.0"],
      unaffected: [],
    },
    {
      name: "fixed excludes the fix and everything after",
      events: [{ introduced: "0" }, { fixed: "1.0.2" }],
      affected: ["0.1.0", "1.0.1", "1.0.2-rc.1"],
      unaffected: ["1.0.2", "1.0.3", "2.0.0"],
    },
    {
      name: "last_affected includes the named version but not what follows",
      events: [{ introduced: "0" }, { last_affected: "2.1.214" }],
      affected: ["2.1.214", "2.1.0"],
      unaffected: ["2.1.215", "2.1.215-beta", "3.0.0"],
    },
    {
      name: "multiple introduced/fixed pairs are separate windows",
      events: [{ introduced: "1.0.0" }, { fixed: "1.0.2" }, { introduced: "3.0.0" }, { fixed: "3.2.5" }],
      affected: ["1.0.0", "1.0.1", "3.0.0", "3.2.4"],
      unaffected: ["0.9.9", "1.0.2", "2.9.9", "3.2.5", "4.0.0"],
    },
    {
      name: "events are sorted in version order before the walk, not read in record order",
      events: [{ fixed: "3.2.5" }, { introduced: "3.0.0" }, { fixed: "1.0.2" }, { introduced: "1.0.0" }],
      affected: ["1.0.1", "3.1.0"],
      unaffected: ["0.5.0", "2.0.0", "3.2.5"],
    },
    {
      name: 'introduced "0" sorts first even when listed last',
      events: [{ fixed: "1.10.0" }, { introduced: "0" }],
      affected: ["1.9.0", "1.2.0"],
      unaffected: ["1.10.0"],
    },
    {
      name: "sorting uses the ecosystem order, not string order (1.10.0 > 1.9.0)",
      events: [{ introduced: "1.10.0" }, { introduced: "0" }, { fixed: "1.9.0" }],
      affected: ["1.8.0", "1.10.0", "2.0.0"],
      unaffected: ["1.9.0", "1.9.5"],
    },
    {
      name: "a limit bounds the range from above",
      events: [{ introduced: "1.0.0" }, { limit: "2.0.0" }],
      affected: ["1.0.0", "1.9.9"],
      unaffected: ["0.9.0", "2.0.0", "2.1.0"],
    },
    {
      name: "a version below any one of several limits is in range",
      events: [{ introduced: "0" }, { limit: "1.5.0" }, { limit: "2.0.0" }],
      affected: ["1.0.0", "1.7.0"],
      unaffected: ["2.0.0"],
    },
    {
      name: 'limit "*" is infinity',
      events: [{ introduced: "1.0.0" }, { limit: "*" }],
      affected: ["1.0.0", "1000.0.0"],
      unaffected: ["0.1.0"],
    },
  ];

  for (const testCase of cases) {
    it(testCase.name, () => {
      const advisory = advisoryWith([ecosystemRange(...testCase.events)]);
      for (const version of testCase.affected) {
        assert.equal(matchAdvisory(advisory, npm("pkg", version)).affected, true, `${version} affected`);
      }
      for (const version of testCase.unaffected) {
        assert.equal(matchAdvisory(advisory, npm("pkg", version)).affected, false, `${version} unaffected`);
      }
    });
  }

  it("matches the exact versions[] list even without ranges, in the ecosystem's equality", () => {
    const advisory: Osv = {
      id: "TEST-2",
      affected: [{ package: { ecosystem: "PyPI", name: "Some_Package" }, versions: ["1.0", "1.2.0"] }],
    };
    const pypi = (version: string): PackageVersion => ({ ecosystem: "PyPI", name: "some-package", version });
    assert.equal(matchAdvisory(advisory, pypi("1.0")).affected, true);
    assert.equal(matchAdvisory(advisory, pypi("1.0.0")).affected, true);
    assert.equal(matchAdvisory(advisory, pypi("1.2")).affected, true);
    assert.equal(matchAdvisory(advisory, pypi("1.1")).affected, false);
  });

  it("skips withdrawn advisories", () => {
    const advisory = advisoryWith([ecosystemRange({ introduced: "0" })], {
      withdrawn: "2024-01-01T00:00:00Z",
    });
    assert.equal(matchAdvisory(advisory, npm("pkg", "1.0.0")).affected, false);
  });

  it("skips GIT ranges, whose commits it cannot order", () => {
    const advisory = advisoryWith([
      { type: "GIT", repo: "https://example.com/repo", events: [{ introduced: "0" }, { fixed: "abc123" }] },
    ]);
    const outcome = matchAdvisory(advisory, npm("pkg", "1.0.0"));
    assert.deepEqual(outcome, { affected: false, fixedAbove: [], problems: [] });
  });

  it("ignores database_specific and ecosystem_specific", () => {
    const advisory: Osv = {
      id: "TEST-3",
      database_specific: { affected: false },
      affected: [
        {
          package: { ecosystem: "npm", name: "pkg" },
          ranges: [ecosystemRange({ introduced: "0" }, { fixed: "2.0.0" })],
          database_specific: { last_known_affected_version_range: "< 0.5.0" },
        },
      ],
    };
    assert.equal(matchAdvisory(advisory, npm("pkg", "1.0.0")).affected, true);
  });

  it("reports unreadable versions instead of throwing", () => {
    const advisory = advisoryWith([ecosystemRange({ introduced: "0" }, { fixed: "not.a.version" })]);
    const badEvent = matchAdvisory(advisory, npm("pkg", "1.0.0"));
    assert.equal(badEvent.affected, false);
    assert.match(badEvent.problems.join(), /TEST-1: fixed not a semver version: "not.a.version"/);
    const badInstalled = matchAdvisory(advisory, npm("pkg", "latest"));
    assert.match(badInstalled.problems.join(), /pkg@latest: not a semver version/);
  });

  it("only looks at the entries for the package's ecosystem and name", () => {
    const advisory = advisoryWith([ecosystemRange({ introduced: "0" })]);
    assert.equal(matchAdvisory(advisory, npm("other", "1.0.0")).affected, false);
    assert.equal(matchAdvisory(advisory, { ecosystem: "PyPI", name: "pkg", version: "1.0" }).affected, false);
  });
});

describe("matching real advisories", () => {
  it("lodash GHSA-35jh-r3h4-6jhm: before 4.17.21, for lodash and lodash-es", () => {
    const advisory = fixture("npm/GHSA-35jh-r3h4-6jhm.json");
    assert.equal(matchAdvisory(advisory, npm("lodash", "4.17.20")).affected, true);
    assert.equal(matchAdvisory(advisory, npm("lodash", "3.10.1")).affected, true);
    assert.equal(matchAdvisory(advisory, npm("lodash-es", "4.17.15")).affected, true);
    assert.equal(matchAdvisory(advisory, npm("lodash", "4.17.21")).affected, false);
    assert.equal(matchAdvisory(advisory, npm("lodash.template", "4.5.0")).affected, false);
    assert.deepEqual(matchAdvisory(advisory, npm("lodash", "4.17.20")).fixedAbove, ["4.17.21"]);
  });

  it("lodash GHSA-p6mc-m468-83gw: fixed in 4.17.20", () => {
    const advisory = fixture("npm/GHSA-p6mc-m468-83gw.json");
    assert.equal(matchAdvisory(advisory, npm("lodash", "4.17.19")).affected, true);
    assert.equal(matchAdvisory(advisory, npm("lodash", "4.17.20")).affected, false);
  });

  it("minimist GHSA-xvch-5gv4-984h: two branches, 0.x fixed in 0.2.4 and 1.x in 1.2.6", () => {
    const advisory = fixture("npm/GHSA-xvch-5gv4-984h.json");
    for (const version of ["0.0.8", "0.2.3", "1.0.0", "1.2.5"]) {
      assert.equal(matchAdvisory(advisory, npm("minimist", version)).affected, true, version);
    }
    for (const version of ["0.2.4", "1.2.6", "1.2.8"]) {
      assert.equal(matchAdvisory(advisory, npm("minimist", version)).affected, false, version);
    }
  });

  it("semver GHSA-c2qf-rxjj-qqgw: three branches, prereleases of a fix still affected", () => {
    const advisory = fixture("npm/GHSA-c2qf-rxjj-qqgw.json");
    for (const version of ["5.7.1", "6.3.0", "7.5.1", "7.5.2-rc.0", "7.0.0"]) {
      assert.equal(matchAdvisory(advisory, npm("semver", version)).affected, true, version);
    }
    for (const version of ["5.7.2", "6.3.1", "7.5.2", "7.6.0"]) {
      assert.equal(matchAdvisory(advisory, npm("semver", version)).affected, false, version);
    }
    // 5.7.2 and 6.3.1 name fixes below an installed 7.5.1 too; only 7.5.2 is above it
    assert.deepEqual(matchAdvisory(advisory, npm("semver", "7.5.1")).fixedAbove, ["7.5.2"]);
  });

  it("requests PYSEC-2023-74 (PEP 440 order; its GIT range is skipped)", () => {
    const advisory = fixture("pypi/PYSEC-2023-74.json");
    const requests = (version: string): PackageVersion => ({ ecosystem: "PyPI", name: "Requests", version });
    assert.equal(matchAdvisory(advisory, requests("2.28.1")).affected, true);
    assert.equal(matchAdvisory(advisory, requests("2.31.0rc1")).affected, true);
    assert.equal(matchAdvisory(advisory, requests("2.31.0")).affected, false);
    assert.equal(matchAdvisory(advisory, requests("2.2.1")).affected, false);
    assert.deepEqual(matchAdvisory(advisory, requests("2.28.1")).problems, []);
  });

  it("GO-2022-0969: stdlib windows and a pseudo-version fix for golang.org/x/net", () => {
    const advisory = fixture("go/GO-2022-0969.json");
    const go = (name: string, version: string): PackageVersion => ({ ecosystem: "Go", name, version });
    assert.equal(matchAdvisory(advisory, go("stdlib", "v1.18.5")).affected, true);
    assert.equal(matchAdvisory(advisory, go("stdlib", "v1.18.6")).affected, false);
    assert.equal(matchAdvisory(advisory, go("stdlib", "v1.19.0")).affected, true);
    assert.equal(matchAdvisory(advisory, go("stdlib", "v1.19.1")).affected, false);
    const net = "golang.org/x/net";
    assert.equal(matchAdvisory(advisory, go(net, "v0.0.0-20220826154423-83b083e8dc8b")).affected, true);
    assert.equal(matchAdvisory(advisory, go(net, "v0.0.0-20220906165146-f3363e06e74c")).affected, false);
    assert.equal(matchAdvisory(advisory, go(net, "v0.1.0")).affected, false);
  });

  it("log4j-core GHSA-jfh8-c2jp-5v3q (Maven order): 2.14.1 affected, the backports are not", () => {
    const advisory = fixture("maven/GHSA-jfh8-c2jp-5v3q.json");
    const log4j = (version: string): PackageVersion => ({
      ecosystem: "Maven",
      name: "org.apache.logging.log4j:log4j-core",
      version,
    });
    for (const version of ["2.0-beta9", "2.3", "2.4", "2.12.1", "2.13.0", "2.14.1"]) {
      assert.equal(matchAdvisory(advisory, log4j(version)).affected, true, version);
    }
    for (const version of ["2.3.1", "2.12.2", "2.15.0", "2.17.1"]) {
      assert.equal(matchAdvisory(advisory, log4j(version)).affected, false, version);
    }
  });
});
