import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goVersions } from "./go.js";
import { assertAscending, assertOrder } from "./order.test.helpers.js";

describe("Go module version order", () => {
  it("reads versions with and without the v prefix alike", () => {
    assertOrder(goVersions, [
      ["v0.3.3", "=", "0.3.3"],
      ["v0.3.2", "<", "0.3.3"],
      ["v1.19.0-0", "<", "1.19.0"],
    ]);
  });

  it("orders pseudo-versions as prereleases, by commit time", () => {
    assertAscending(goVersions, [
      "v0.0.0-20191109021931-daa7c04131f5",
      "v0.0.0-20220826154423-83b083e8dc8b",
      "v0.0.0-20220906165146-f3363e06e74c",
      "v0.0.1",
      // a pseudo-version after v1.2.3: v1.2.4-0.<time>-<hash>, before v1.2.4 itself
      "v1.2.4-0.20191109021931-daa7c04131f5",
      "v1.2.4",
      // a pseudo-version after a prerelease: v1.3.0-pre.0.<time>-<hash>
      "v1.3.0-pre",
      "v1.3.0-pre.0.20200101000000-0123456789ab",
      "v1.3.0",
    ]);
  });

  it("ignores +incompatible, which is build metadata", () => {
    assertOrder(goVersions, [
      ["v2.0.0+incompatible", "=", "v2.0.0"],
      ["v2.0.0+incompatible", "<", "v2.0.1+incompatible"],
      ["v1.9.9", "<", "v2.0.0+incompatible"],
    ]);
  });

  it("reports what it cannot parse", () => {
    const parsed = goVersions.parse("v1.2");
    assert.equal(parsed.ok, false);
  });
});
