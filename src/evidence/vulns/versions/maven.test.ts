import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mavenVersions } from "./maven.js";
import { assertAscending, assertOrder } from "./order.test.helpers.js";

describe("Maven version order", () => {
  it("holds the examples of Maven's version order specification", () => {
    // https://maven.apache.org/pom.html#version-order-specification
    assertOrder(mavenVersions, [
      ["1", "<", "1.1"], // number padding
      ["1-snapshot", "<", "1"], // qualifier padding
      ["1", "<", "1-sp"],
      ["1-foo2", "<", "1-foo10"], // switching to numeric order
      ["1.foo", "=", "1-foo"],
      ["1-foo", "<", "1-1"],
      ["1-1", "<", "1.1"],
      ["1.ga", "=", "1-ga"], // trailing null values are removed
      ["1-ga", "=", "1-0"],
      ["1-0", "=", "1.0"],
      ["1.0", "=", "1"],
      ["1-sp", ">", "1-ga"],
      ["1-sp.1", ">", "1-ga.1"],
      ["1-sp-1", "<", "1-ga-1"], // trailing null values at each hyphen
      ["1-ga-1", "=", "1-1"],
      ["1-a1", "=", "1-alpha-1"],
    ]);
  });

  it("orders the qualifiers alpha < beta < milestone < rc = cr < snapshot < release < sp < unknown", () => {
    assertAscending(mavenVersions, [
      "1.0-alpha-1",
      "1.0-alpha-2",
      "1.0-beta-1",
      "1.0-milestone-1",
      "1.0-rc-1",
      "1.0-snapshot",
      "1.0",
      "1.0-sp",
      "1.0-abc",
      "1.0-xyz",
      "1.0.1",
    ]);
    assertOrder(mavenVersions, [
      ["1.0-cr1", "=", "1.0-rc1"],
      ["1.0-final", "=", "1.0"],
      ["1.0.RELEASE", "=", "1.0"],
      ["1.0-SNAPSHOT", "=", "1.0-snapshot"],
      ["1.0a1", "=", "1.0-alpha-1"],
      ["1.0b2", "=", "1.0-beta-2"],
      ["1.0m3", "=", "1.0-milestone-3"],
    ]);
  });

  it("orders the log4j releases of CVE-2021-44228", () => {
    assertAscending(mavenVersions, [
      "2.0-beta9",
      "2.0-rc1",
      "2.0",
      "2.3",
      "2.3.1",
      "2.4",
      "2.12.1",
      "2.12.2",
      "2.13.0",
      "2.14.1",
      "2.15.0",
      "2.17.1",
    ]);
  });

  it("compares numbers of any length numerically", () => {
    assertOrder(mavenVersions, [
      ["1.9", "<", "1.10"],
      ["1.20231231235959", "<", "1.100000000000000000000"],
    ]);
  });

  it("reports an empty version", () => {
    assert.equal(mavenVersions.parse(" ").ok, false);
  });
});
