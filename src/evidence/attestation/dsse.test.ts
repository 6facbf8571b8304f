import assert from "node:assert/strict";
import { X509Certificate, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixturesDir } from "../../testing/paths.js";
import { decodeBase64, pae, parseEnvelope, signEnvelope, verifyEnvelope, type Envelope } from "./dsse.js";

const fixtures = join(fixturesDir, "attestation");
const utf8 = new TextEncoder();

interface VectorFile {
  keys: Record<string, { algorithm: string; seed: string; public: string }>;
  vectors: {
    id: string;
    envelope: unknown;
    trustedKeys: string[];
    threshold: number;
    supportedPayloadTypes: string[];
    pae: string;
    expect: "accept" | "reject";
  }[];
}

function ed25519PublicKey(rawHex: string): KeyObject {
  const x = Buffer.from(rawHex, "hex").toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

function decimalTo32Bytes(decimal: string): string {
  return Buffer.from(BigInt(decimal).toString(16).padStart(64, "0"), "hex").toString("base64url");
}

function newKey(type: "ed25519" | "ec") {
  return type === "ed25519"
    ? generateKeyPairSync("ed25519")
    : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

function withByteFlipped(base64: string, index: number): string {
  const bytes = Buffer.from(base64, "base64");
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString("base64");
}

describe("PAE", () => {
  it("matches the DSSE protocol's example", () => {
    const encoded = pae("http://example.com/HelloWorld", utf8.encode("hello world"));
    assert.equal(
      Buffer.from(encoded).toString("utf8"),
      "DSSEv1 29 http://example.com/HelloWorld 11 hello world",
    );
  });

  const cases = [
    { name: "empty body keeps the trailing space", type: "t", body: "", expected: "DSSEv1 1 t 0 " },
    { name: "multi-byte type counts bytes", type: "ä", body: "x", expected: "DSSEv1 2 ä 1 x" },
    { name: "emoji body counts four bytes each", type: "t", body: "🌍🌍", expected: "DSSEv1 1 t 8 🌍🌍" },
    { name: "a space inside the type is kept", type: "a b", body: "héllo", expected: "DSSEv1 3 a b 6 héllo" },
  ];
  for (const { name, type, body, expected } of cases) {
    it(name, () => {
      assert.equal(Buffer.from(pae(type, utf8.encode(body))).toString("utf8"), expected);
    });
  }
});

describe("DSSE test vectors (secure-systems-lab/dsse testvectors/vectors.json)", () => {
  const file = JSON.parse(readFileSync(join(fixtures, "dsse-testvectors.json"), "utf8")) as VectorFile;
  for (const vector of file.vectors) {
    it(`${vector.id}: ${vector.expect}`, () => {
      const envelope = parseEnvelope(vector.envelope);
      const payload = decodeBase64(envelope.payload);
      assert.ok(payload);
      // That vector's pae is of the type the signature covers, not of the type the envelope claims.
      if (vector.id !== "payload-type-swapped") {
        assert.equal(Buffer.from(pae(envelope.payloadType, payload)).toString("hex"), vector.pae);
      }
      const trusted = vector.trustedKeys.map((name) => {
        const key = file.keys[name];
        assert.ok(key);
        return { name, keyid: name, publicKey: ed25519PublicKey(key.public) };
      });
      const verdict = verifyEnvelope(envelope, trusted, {
        threshold: vector.threshold,
        payloadTypes: vector.supportedPayloadTypes,
      });
      assert.equal(verdict.valid, vector.expect === "accept", verdict.reason);
    });
  }
});

describe("the DSSE protocol's ECDSA example", () => {
  const publicKey = createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: decimalTo32Bytes("46950820868899156662930047687818585632848591499744589407958293238635476079160"),
      y: decimalTo32Bytes("5640078356564379163099075877009565129882514886557779369047442380624545832820"),
    },
    format: "jwk",
  });
  const envelope: Envelope = {
    payload: "aGVsbG8gd29ybGQ=",
    payloadType: "http://example.com/HelloWorld",
    signatures: [
      { sig: "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==" },
    ],
  };

  it("verifies its raw r‖s signature", () => {
    assert.deepEqual(verifyEnvelope(envelope, [{ name: "spec", publicKey }]), {
      valid: true,
      reason: "signed by spec",
      acceptedBy: ["spec"],
    });
  });

  it("rejects it when a payload byte changes", () => {
    const tampered = { ...envelope, payload: Buffer.from("hello worle").toString("base64") };
    assert.equal(verifyEnvelope(tampered, [{ name: "spec", publicKey }]).valid, false);
  });
});

describe("envelopes made by sigstore-js (test fixtures, Fulcio certificate keys)", () => {
  const file = JSON.parse(readFileSync(join(fixtures, "sigstore-js-dsse.json"), "utf8")) as {
    cases: { id: string; certificate: string; envelope: unknown }[];
  };
  for (const fixture of file.cases) {
    const publicKey = new X509Certificate(Buffer.from(fixture.certificate, "base64")).publicKey;
    const envelope = parseEnvelope(fixture.envelope);

    it(`${fixture.id}: verifies its DER ECDSA signature`, () => {
      const verdict = verifyEnvelope(envelope, [{ name: "fulcio-leaf", publicKey }]);
      assert.equal(verdict.valid, true, verdict.reason);
      assert.equal(Buffer.from(envelope.payload, "base64").toString(), "hello, world!");
    });

    it(`${fixture.id}: rejects a changed payload type`, () => {
      const verdict = verifyEnvelope({ ...envelope, payloadType: "text/html" }, [
        { name: "fulcio-leaf", publicKey },
      ]);
      assert.equal(verdict.reason, "no signature verified with a trusted key");
    });
  }
});

describe("signEnvelope and verifyEnvelope", () => {
  const payloadType = "application/vnd.in-toto+json";
  const payload = utf8.encode('{"_type":"https://in-toto.io/Statement/v1","note":"größe"}');

  for (const type of ["ed25519", "ec"] as const) {
    it(`round-trips with a ${type} key`, () => {
      const { privateKey, publicKey } = newKey(type);
      const envelope = signEnvelope(payloadType, payload, [{ keyid: "k1", privateKey }]);
      assert.equal(envelope.payloadType, payloadType);
      assert.deepEqual(Buffer.from(envelope.payload, "base64"), Buffer.from(payload));
      assert.equal(envelope.signatures[0]?.keyid, "k1");
      const verdict = verifyEnvelope(envelope, [{ name: "ci", keyid: "k1", publicKey }]);
      assert.deepEqual(verdict, { valid: true, reason: "signed by ci", acceptedBy: ["ci"] });
    });
  }

  it("accepts an ECDSA signature both DER-encoded and as raw r‖s", () => {
    const { privateKey, publicKey } = newKey("ec");
    const message = pae(payloadType, payload);
    const der = sign("sha256", message, privateKey);
    const raw = sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
    assert.equal(raw.length, 64);
    assert.notEqual(der.length, 64);
    for (const sig of [der, raw]) {
      const envelope = {
        payloadType,
        payload: Buffer.from(payload).toString("base64"),
        signatures: [{ sig: sig.toString("base64") }],
      };
      assert.equal(verifyEnvelope(envelope, [{ name: "ci", publicKey }]).valid, true);
    }
  });

  it("accepts standard and URL-safe base64, with or without padding", () => {
    const { privateKey, publicKey } = newKey("ec");
    const signed = signEnvelope(payloadType, utf8.encode("??>>~~ a payload with + and / in base64"), [
      { privateKey },
    ]);
    const signature = signed.signatures[0]?.sig ?? "";
    const variants = [
      (text: string) => text,
      (text: string) => text.replace(/=+$/, ""),
      (text: string) => Buffer.from(text, "base64").toString("base64url"),
      (text: string) =>
        `${Buffer.from(text, "base64").toString("base64url")}${"=".repeat((4 - (text.replace(/=+$/, "").length % 4)) % 4)}`,
    ];
    assert.match(signed.payload, /[+/]/);
    for (const variant of variants) {
      const envelope = {
        ...signed,
        payload: variant(signed.payload),
        signatures: [{ sig: variant(signature) }],
      };
      assert.equal(
        verifyEnvelope(envelope, [{ name: "ci", publicKey }]).valid,
        true,
        JSON.stringify(envelope),
      );
    }
  });

  const malformed = [
    { name: "a stray character", text: "aGVs*bG8=" },
    { name: "mixed alphabets", text: "ab+_" },
    { name: "padding on a length that is not a multiple of four", text: "aGVsbG8==" },
    { name: "an impossible length", text: "aGVsb" },
  ];
  for (const { name, text } of malformed) {
    it(`rejects malformed base64: ${name}`, () => {
      const { privateKey, publicKey } = newKey("ed25519");
      const signed = signEnvelope(payloadType, payload, [{ privateKey }]);
      assert.equal(decodeBase64(text), undefined);
      assert.equal(
        verifyEnvelope({ ...signed, payload: text }, [{ name: "ci", publicKey }]).reason,
        "malformed base64 in payload",
      );
      const badSig = { ...signed, signatures: [{ sig: text }] };
      assert.equal(
        verifyEnvelope(badSig, [{ name: "ci", publicKey }]).reason,
        "malformed base64 in signatures[0].sig",
      );
    });
  }

  describe("every tampering is rejected", () => {
    const alice = newKey("ed25519");
    const bob = newKey("ec");
    const mallory = newKey("ed25519");
    const trusted = [
      { name: "alice", keyid: "alice-id", publicKey: alice.publicKey },
      { name: "bob", keyid: "bob-id", publicKey: bob.publicKey },
    ];
    const genuine = signEnvelope(payloadType, payload, [{ keyid: "alice-id", privateKey: alice.privateKey }]);
    const cases: {
      name: string;
      envelope: Envelope;
      threshold?: number;
      reason: string;
      acceptedBy?: string[];
    }[] = [
      {
        name: "a payload byte",
        envelope: { ...genuine, payload: withByteFlipped(genuine.payload, 10) },
        reason: "no signature verified with a trusted key",
      },
      {
        name: "the payload type",
        envelope: { ...genuine, payloadType: "application/vnd.in-toto+jsonx" },
        reason: "no signature verified with a trusted key",
      },
      {
        name: "a signature byte",
        envelope: {
          ...genuine,
          signatures: [{ keyid: "alice-id", sig: withByteFlipped(genuine.signatures[0]?.sig ?? "", 5) }],
        },
        reason: "no signature verified with a trusted key",
      },
      {
        name: "a signature by an untrusted key",
        envelope: signEnvelope(payloadType, payload, [{ privateKey: mallory.privateKey }]),
        reason: "no signature verified with a trusted key",
      },
      {
        name: "a keyid naming a trusted key on a signature by another key",
        envelope: signEnvelope(payloadType, payload, [{ keyid: "alice-id", privateKey: mallory.privateKey }]),
        reason: "no signature verified with a trusted key",
      },
      {
        name: "one trusted signer against a threshold of two",
        envelope: signEnvelope(payloadType, payload, [
          { keyid: "alice-id", privateKey: alice.privateKey },
          { keyid: "bob-id", privateKey: mallory.privateKey },
        ]),
        threshold: 2,
        reason: "threshold 2 not met (1 valid)",
        acceptedBy: ["alice"],
      },
      {
        name: "the same trusted key signing twice against a threshold of two",
        envelope: signEnvelope(payloadType, payload, [
          { keyid: "alice-id", privateKey: alice.privateKey },
          { keyid: "bob-id", privateKey: alice.privateKey },
        ]),
        threshold: 2,
        reason: "threshold 2 not met (1 valid)",
        acceptedBy: ["alice"],
      },
      {
        name: "an envelope with no signatures",
        envelope: { ...genuine, signatures: [] },
        reason: "the envelope has no signatures",
      },
    ];
    for (const { name, envelope, threshold, reason, acceptedBy = [] } of cases) {
      it(name, () => {
        assert.deepEqual(verifyEnvelope(envelope, trusted, { threshold }), {
          valid: false,
          reason,
          acceptedBy,
        });
      });
    }

    it("while the genuine envelope verifies", () => {
      assert.equal(verifyEnvelope(genuine, trusted).valid, true);
    });

    it("counts one key listed under two names once", () => {
      const twice = [...trusted, { name: "alice-again", publicKey: alice.publicKey }];
      const signedTwice = signEnvelope(payloadType, payload, [
        { privateKey: alice.privateKey },
        { privateKey: alice.privateKey },
      ]);
      assert.equal(
        verifyEnvelope(signedTwice, twice, { threshold: 2 }).reason,
        "threshold 2 not met (1 valid)",
      );
    });

    it("meets a threshold of two with two distinct trusted keys, whatever the keyids say", () => {
      const both = signEnvelope(payloadType, payload, [
        { keyid: "bob-id", privateKey: alice.privateKey },
        { keyid: "alice-id", privateKey: bob.privateKey },
      ]);
      const verdict = verifyEnvelope(both, trusted, { threshold: 2 });
      assert.deepEqual(verdict, {
        valid: true,
        reason: "signed by alice, bob",
        acceptedBy: ["alice", "bob"],
      });
    });
  });
});
