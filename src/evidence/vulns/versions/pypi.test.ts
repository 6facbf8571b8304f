import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pypiVersions } from "./pypi.js";
import { assertAscending, assertOrder } from "./order.test.helpers.js";

describe("PyPI (PEP 440) version order", () => {
  it("sorts the PEP 440 example sequence", () => {
    // the ordering example of PEP 440, "Summary of permitted suffixes and relative ordering"
    assertAscending(pypiVersions, [
      "1.dev0",
      "1.0.dev456",
      "1.0a1",
      "1.0a2.dev456",
      "1.0a12.dev456",
      "1.0a12",
      "1.0b1.dev456",
      "1.0b2",
      "1.0b2.post345.dev456",
      "1.0b2.post345",
      "1.0rc1.dev456",
      "1.0rc1",
      "1.0",
      "1.0+abc.5",
      "1.0+abc.7",
      "1.0+5",
      "1.0.post456.dev34",
      "1.0.post456",
      "1.0.15",
      "1.1.dev1",
    ]);
  });

  it("puts the epoch before everything else", () => {
    assertOrder(pypiVersions, [
      ["2013.10", "<", "1!1.0"],
      ["1!1.0", "<", "1!1.1"],
      ["0!1.0", "=", "1.0"],
    ]);
  });

  it("treats trailing zeros and alternative spellings as the same version", () => {
    assertOrder(pypiVersions, [
      ["1.0", "=", "1.0.0"],
      ["1", "=", "1.0.0.0"],
      ["1.0alpha1", "=", "1.0a1"],
      ["1.0-beta.2", "=", "1.0b2"],
      ["1.0c1", "=", "1.0rc1"],
      ["1.0pre1", "=", "1.0rc1"],
      ["1.0preview1", "=", "1.0rc1"],
      ["1.0-1", "=", "1.0.post1"],
      ["1.0.rev1", "=", "1.0.post1"],
      ["1.0.post", "=", "1.0.post0"],
      ["1.0a", "=", "1.0a0"],
      ["1.0-dev", "=", "1.0.dev0"],
      ["v1.0", "=", "1.0"],
      ["1.0+ubuntu-1", "=", "1.0+ubuntu.1"],
      ["1.0RC1", "=", "1.0rc1"],
    ]);
  });

  it("compares release numbers numerically and local labels segment by segment", () => {
    assertOrder(pypiVersions, [
      ["2.9.2", "<", "2.10.0"],
      ["2.28.1", "<", "2.31.0"],
      ["1.0+abc", "<", "1.0+abc.1"],
      ["1.0+abc", "<", "1.0+1"],
      ["1.0+9", "<", "1.0+10"],
      ["1.0.post1", ">", "1.0+local"],
    ]);
  });

  it("reports what it cannot parse", () => {
    const parsed = pypiVersions.parse("1.0-foo");
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? "" : parsed.error, /not a PEP 440 version/);
  });
});
