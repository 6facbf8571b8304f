import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { npmVersions } from "./npm.js";
import { assertAscending, assertOrder } from "./order.test.helpers.js";

describe("npm version order", () => {
  it("follows SemVer 2.0 precedence, prereleases included", () => {
    // the precedence example of semver.org, section 11
    assertAscending(npmVersions, [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.0.1",
      "1.10.0",
      "2.0.0",
    ]);
  });

  it("ignores build metadata and a leading v", () => {
    assertOrder(npmVersions, [
      ["1.0.0+build.1", "=", "1.0.0+build.2"],
      ["v4.17.21", "=", "4.17.21"],
      ["4.17.20", "<", "4.17.21"],
    ]);
  });

  it("reports what it cannot parse", () => {
    const parsed = npmVersions.parse("not-a-version");
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? "" : parsed.error, /not a semver version: "not-a-version"/);
  });
});
