import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { hashesFromIntegrity, hexHash } from "./hashes.js";

describe("SRI integrity to CycloneDX hashes", () => {
  it("turns each base64 SRI digest into lowercase hex under the CycloneDX algorithm name", () => {
    const content = Buffer.from("left-pad");
    const sha512 = createHash("sha512").update(content).digest();
    const sha1 = createHash("sha1").update(content).digest();
    const integrity = `sha512-${sha512.toString("base64")} sha1-${sha1.toString("base64")}`;
    assert.deepEqual(hashesFromIntegrity(integrity), [
      { alg: "SHA-512", content: sha512.toString("hex") },
      { alg: "SHA-1", content: sha1.toString("hex") },
    ]);
  });

  it("keeps sha256 and sha384 and ignores SRI options after the digest", () => {
    const sha256 = createHash("sha256").update("x").digest();
    assert.deepEqual(hashesFromIntegrity(`sha256-${sha256.toString("base64")}?ct=application/javascript`), [
      { alg: "SHA-256", content: sha256.toString("hex") },
    ]);
  });

  it("drops unknown algorithms and digests of the wrong length rather than record a wrong hash", () => {
    assert.deepEqual(hashesFromIntegrity("md5-1B2M2Y8AsgTpgAmY7PhCfg== sha512-dG9vIHNob3J0"), []);
    assert.deepEqual(hashesFromIntegrity(undefined), []);
    assert.equal(hexHash("SHA-256", "abc"), undefined);
  });
});
