import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { UserError } from "../../errors.js";
import { signEnvelope } from "./dsse.js";
import { keysForPredicate, signStatement, verifyAttestation, type PolicyKey } from "./attestation.js";
import { PREDICATE_TYPES, resolvePredicateType, shortNameOf } from "./predicate-types.js";
import {
  IN_TOTO_PAYLOAD_TYPE,
  STATEMENT_V01,
  makeStatement,
  parseStatement,
  subjectMatches,
  type Statement,
} from "./statement.js";

const digestOf = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;
const artifact = digestOf("artifact v1");
const otherArtifact = digestOf("artifact v2");
const utf8 = new TextEncoder();

const ci = generateKeyPairSync("ed25519");
const scanner = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const keys: PolicyKey[] = [
  { name: "ci", publicKey: ci.publicKey, predicateTypes: [PREDICATE_TYPES.provenance, PREDICATE_TYPES.sbom] },
  { name: "scanner", publicKey: scanner.publicKey, predicateTypes: [PREDICATE_TYPES.vulns] },
];
const sbom = makeStatement([{ name: "cart", digest: artifact }], PREDICATE_TYPES.sbom, {
  bomFormat: "CycloneDX",
});

describe("statements", () => {
  it("makes a v1 statement with a sha256 subject", () => {
    assert.deepEqual(sbom, {
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ name: "cart", digest: { sha256: artifact.slice("sha256:".length) } }],
      predicateType: "https://cyclonedx.org/bom",
      predicate: { bomFormat: "CycloneDX" },
    });
  });

  it("parses a v0.1 statement", () => {
    const old = {
      _type: STATEMENT_V01,
      subject: [{ name: "a", digest: { sha256: "AB".repeat(32) } }],
      predicateType: "x://p",
      predicate: {},
    };
    const parsed = parseStatement(utf8.encode(JSON.stringify(old)));
    assert.equal(parsed._type, STATEMENT_V01);
    assert.equal(subjectMatches(parsed, `sha256:${"ab".repeat(32)}`), true);
  });

  const invalid = [
    { name: "not JSON", payload: "{", message: /not a JSON in-toto statement/ },
    {
      name: "another _type",
      payload: '{"_type":"https://in-toto.io/Statement/v2"}',
      message: /unsupported statement _type/,
    },
    {
      name: "no subject",
      payload: `{"_type":"${STATEMENT_V01}","predicateType":"x://p","subject":[]}`,
      message: /no subject/,
    },
    {
      name: "no predicateType",
      payload: `{"_type":"${STATEMENT_V01}","subject":[{"digest":{}}]}`,
      message: /no predicateType/,
    },
  ];
  for (const { name, payload, message } of invalid) {
    it(`refuses a payload with ${name}`, () => {
      assert.throws(
        () => parseStatement(utf8.encode(payload)),
        (error: unknown) => error instanceof UserError && message.test(error.message),
      );
    });
  }

  it("refuses a digest that is not sha256:<64 hex>", () => {
    assert.throws(
      () => makeStatement([{ name: "a", digest: "sha1:abc" }], "x://p", {}),
      /not a sha256 digest/,
    );
  });
});

describe("predicate types", () => {
  it("maps every short name to its URI and back", () => {
    for (const [name, uri] of Object.entries(PREDICATE_TYPES)) {
      assert.equal(resolvePredicateType(name), uri);
      assert.equal(shortNameOf(uri), name);
    }
    assert.equal(resolvePredicateType("https://example.com/custom/v1"), "https://example.com/custom/v1");
    assert.throws(() => resolvePredicateType("sbomm"), /unknown predicate type "sbomm"/);
  });
});

describe("verifyAttestation", () => {
  const envelope = signStatement(sbom, [{ privateKey: ci.privateKey }]);

  it("accepts a statement about the artifact signed by a key allowed to sign its type", () => {
    const verdict = verifyAttestation(envelope, keys, {
      subjectDigest: artifact,
      predicateType: PREDICATE_TYPES.sbom,
    });
    assert.equal(verdict.valid, true, verdict.reason);
    assert.deepEqual(
      {
        reason: verdict.reason,
        predicateType: verdict.predicateType,
        subjects: verdict.subjects,
        acceptedBy: verdict.acceptedBy,
      },
      {
        reason: "signed by ci",
        predicateType: PREDICATE_TYPES.sbom,
        subjects: [`cart ${artifact}`],
        acceptedBy: ["ci"],
      },
    );
  });

  it("accepts a signed v0.1 statement", () => {
    const old: Statement = { ...sbom, _type: STATEMENT_V01 };
    assert.equal(
      verifyAttestation(signStatement(old, [{ privateKey: ci.privateKey }]), keys, {
        subjectDigest: artifact,
      }).valid,
      true,
    );
  });

  const payloadWith = (change: (statement: Statement) => Statement) =>
    Buffer.from(JSON.stringify(change(sbom))).toString("base64");
  const rejections: {
    name: string;
    verdict: () => ReturnType<typeof verifyAttestation>;
    reason: string | RegExp;
  }[] = [
    {
      name: "a subject digest changed inside the signed statement",
      verdict: () =>
        verifyAttestation(
          {
            ...envelope,
            payload: payloadWith((s) => ({
              ...s,
              subject: [{ name: "cart", digest: { sha256: otherArtifact.slice(7) } }],
            })),
          },
          keys,
          { subjectDigest: otherArtifact },
        ),
      reason: "no signature verified with a trusted key",
    },
    {
      name: "a genuine statement about another artifact",
      verdict: () => verifyAttestation(envelope, keys, { subjectDigest: otherArtifact }),
      reason: `no subject matches ${otherArtifact} (subjects: cart ${artifact})`,
    },
    {
      name: "the predicate type changed inside the signed statement",
      verdict: () =>
        verifyAttestation(
          { ...envelope, payload: payloadWith((s) => ({ ...s, predicateType: PREDICATE_TYPES.provenance })) },
          keys,
        ),
      reason: "no signature verified with a trusted key",
    },
    {
      name: "a predicate type other than the one asked for",
      verdict: () => verifyAttestation(envelope, keys, { predicateType: PREDICATE_TYPES.vulns }),
      reason: `predicate type ${PREDICATE_TYPES.sbom}, expected ${PREDICATE_TYPES.vulns}`,
    },
    {
      name: "a trusted key signing a predicate type it may not sign",
      verdict: () => verifyAttestation(signStatement(sbom, [{ privateKey: scanner.privateKey }]), keys),
      reason: "no signature verified with a trusted key",
    },
    {
      name: "a predicate type no trusted key may sign",
      verdict: () =>
        verifyAttestation(
          signStatement({ ...sbom, predicateType: PREDICATE_TYPES["test-result"] }, [
            { privateKey: ci.privateKey },
          ]),
          keys,
        ),
      reason: `no trusted key may sign ${PREDICATE_TYPES["test-result"]}`,
    },
    {
      name: "another payload type",
      verdict: () =>
        verifyAttestation(
          signEnvelope("application/json", utf8.encode("{}"), [{ privateKey: ci.privateKey }]),
          keys,
        ),
      reason: `payload type "application/json" is not ${IN_TOTO_PAYLOAD_TYPE}`,
    },
    {
      name: "a signed payload that is not a statement",
      verdict: () =>
        verifyAttestation(
          signEnvelope(IN_TOTO_PAYLOAD_TYPE, utf8.encode("[]"), [{ privateKey: ci.privateKey }]),
          keys,
        ),
      reason: /not an in-toto statement/,
    },
  ];
  for (const { name, verdict, reason } of rejections) {
    it(`rejects ${name}`, () => {
      const result = verdict();
      assert.equal(result.valid, false);
      if (typeof reason === "string") assert.equal(result.reason, reason);
      else assert.match(result.reason, reason);
    });
  }

  it("keeps keys without a predicate list for every type", () => {
    const open: PolicyKey = { name: "any", publicKey: ci.publicKey };
    assert.deepEqual(
      keysForPredicate([...keys, open], PREDICATE_TYPES.vulns).map((key) => key.name),
      ["scanner", "any"],
    );
  });
});
