import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { generateKeyPair, keyIdOf, keyTypeOf, loadPublicKey, loadSigner } from "./keys.js";
import { PREDICATE_TYPES } from "./predicate-types.js";
import { TrustFileError, loadTrustFile, parseTrustFile, policyKeysFor } from "./trust.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-trust-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("generateKeyPair", () => {
  for (const type of ["ed25519", "ecdsa-p256"] as const) {
    it(`writes a ${type} pair, the private key readable only by its owner`, () => {
      const out = join(scratch, `keys-${type}`);
      const files = generateKeyPair(type, out);
      assert.equal(statSync(files.privateKeyPath).mode & 0o777, 0o600);
      assert.match(readFileSync(files.publicKeyPath, "utf8"), /^-----BEGIN PUBLIC KEY-----/);
      const signer = loadSigner(files.privateKeyPath);
      const publicKey = loadPublicKey(files.publicKeyPath);
      assert.equal(keyTypeOf(publicKey), type);
      assert.equal(signer.keyid, files.keyid);
      assert.equal(keyIdOf(publicKey), files.keyid);
      assert.equal(keyIdOf(createPublicKey(signer.privateKey)), files.keyid);
      assert.match(files.keyid, /^[0-9a-f]{64}$/);
    });
  }

  it("refuses keys Waybill cannot use", () => {
    const rsaPem = join(scratch, "rsa.pem");
    // A 512-bit RSA key keeps the test fast; it is only there to be refused.
    const rsa = generateKeyPairSync("rsa", { modulusLength: 512 });
    writeFileSync(rsaPem, rsa.publicKey.export({ type: "spki", format: "pem" }));
    assert.throws(() => loadPublicKey(rsaPem), /a rsa key; Waybill signs with ed25519 or ECDSA P-256 keys/);
  });
});

describe("trust file", () => {
  const ci = generateKeyPair("ed25519", join(scratch, "ci"));
  const scanner = generateKeyPair("ecdsa-p256", join(scratch, "scanner"));
  const scannerPem = readFileSync(scanner.publicKeyPath, "utf8");
  const file = join(scratch, "trust.yaml");

  it("lists keys by name with the predicate types each may sign", () => {
    writeFileSync(
      file,
      [
        "keys:",
        "  - name: ci",
        `    publicKey: ${ci.publicKeyPath.slice(scratch.length + 1)}`,
        "    predicates: [provenance, sbom]",
        "  - name: scanner",
        "    publicKey: |",
        ...scannerPem
          .trimEnd()
          .split("\n")
          .map((line) => `      ${line}`),
        `    predicates: [vulns, "${PREDICATE_TYPES["test-result"]}"]`,
        "",
      ].join("\n"),
    );
    const policy = loadTrustFile(file);
    assert.deepEqual(
      policy.keys.map(({ name, keyid, predicateTypes }) => ({ name, keyid, predicateTypes })),
      [
        { name: "ci", keyid: ci.keyid, predicateTypes: [PREDICATE_TYPES.provenance, PREDICATE_TYPES.sbom] },
        {
          name: "scanner",
          keyid: scanner.keyid,
          predicateTypes: [PREDICATE_TYPES.vulns, PREDICATE_TYPES["test-result"]],
        },
      ],
    );
    assert.deepEqual(
      policyKeysFor(policy, "sbom").map((key) => key.name),
      ["ci"],
    );
    assert.deepEqual(
      policyKeysFor(policy, PREDICATE_TYPES["test-result"]).map((key) => key.name),
      ["scanner"],
    );
    assert.deepEqual(policyKeysFor(policy, "slo-evaluation"), []);
  });

  const mistakes = [
    {
      name: "broken YAML",
      text: "keys:\n  - name: ci\n   bad: [",
      at: [3, 1] as const,
      message: /Sequence item without - indicator/,
    },
    { name: "no keys list", text: "signers: []\n", at: [1, 1] as const, message: /`keys` must be a list/ },
    {
      name: "a missing name",
      text: "keys:\n  - publicKey: x.pub\n    predicates: [sbom]\n",
      at: [2, 5] as const,
      message: /keys\[0\]: name is required/,
    },
    {
      name: "an unknown predicate",
      text: `keys:\n  - name: ci\n    publicKey: ${ci.publicKeyPath}\n    predicates: [sbom, sbommm]\n`,
      at: [4, 24] as const,
      message: /unknown predicate type "sbommm"/,
    },
    {
      name: "an unreadable key file",
      text: "keys:\n  - name: ci\n    publicKey: missing.pub\n    predicates: [sbom]\n",
      at: [3, 16] as const,
      message: /key "ci": cannot read the key file/,
    },
    {
      name: "an unknown field",
      text: `keys:\n  - name: ci\n    publicKey: ${ci.publicKeyPath}\n    predicate: [sbom]\n`,
      at: [4, 5] as const,
      message: /unknown field "predicate"/,
    },
    {
      name: "a name used twice",
      text: `keys:\n  - name: ci\n    publicKey: ${ci.publicKeyPath}\n    predicates: [sbom]\n  - name: ci\n    publicKey: ${ci.publicKeyPath}\n    predicates: [vulns]\n`,
      at: [5, 11] as const,
      message: /the name "ci" is used twice/,
    },
    {
      name: "an empty predicate list",
      text: `keys:\n  - name: ci\n    publicKey: ${ci.publicKeyPath}\n    predicates: []\n`,
      at: [4, 17] as const,
      message: /predicates must be a non-empty list/,
    },
  ];
  for (const { name, text, at, message } of mistakes) {
    it(`reports ${name} at file:line:col`, () => {
      assert.throws(
        () => parseTrustFile(text, join(scratch, "bad.yaml")),
        (error: unknown) => {
          assert.ok(error instanceof TrustFileError && error instanceof UserError, String(error));
          assert.deepEqual([error.line, error.col], [...at], error.message);
          assert.ok(
            error.message.startsWith(`${join(scratch, "bad.yaml")}:${at[0]}:${at[1]}: `),
            error.message,
          );
          assert.match(error.problem, message);
          return true;
        },
      );
    });
  }
});
