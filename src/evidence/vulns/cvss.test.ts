import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cvss3BaseScore, roundUp } from "./cvss.js";

describe("CVSS v3.1 base score", () => {
  // vectors with the base scores NVD / GitHub publish for them
  const known: [string, number, string][] = [
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "critical"], // CVE-2021-44228
    ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5, "medium"],
    ["CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2, "high"], // CVE-2021-23337
    ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 7.4, "high"], // CVE-2020-8203
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3, "medium"], // CVE-2022-25883
    ["CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1, "medium"], // CVE-2023-32681
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium"], // the classic reflected XSS
    ["CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:N/A:N", 5.0, "medium"], // scope change raises PR:L to 0.68
    ["CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:N", 2.6, "low"], // a scope-changed low one
    ["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, "low"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0, "none"],
    ["CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"],
  ];
  for (const [vector, score, severity] of known) {
    it(`${vector} = ${score} (${severity})`, () => {
      assert.deepEqual(cvss3BaseScore(vector), { ok: true, score, severity });
    });
  }

  it("ignores temporal and environmental metrics, in any order", () => {
    const result = cvss3BaseScore("CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H/E:U/RL:O/RC:C/CR:H");
    assert.deepEqual(result, { ok: true, score: 9.8, severity: "critical" });
  });

  it("reports malformed vectors", () => {
    for (const vector of [
      "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
      "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
      "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
      "CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    ]) {
      assert.equal(cvss3BaseScore(vector).ok, false, vector);
    }
  });

  it("rounds up to one decimal without floating-point artefacts", () => {
    assert.equal(roundUp(4.0), 4.0);
    assert.equal(roundUp(4.02), 4.1);
    // 4.000000000000001 is 4.0 in the spec's integer arithmetic, not 4.1
    assert.equal(roundUp(4.000000000000001), 4.0);
    assert.equal(roundUp(9.81), 9.9);
  });
});
