import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { artifactDigest } from "../../artifact/digest.js";
import { signStatement, verifyAttestation } from "./attestation.js";
import { formatBundle, parseBundle } from "./bundle.js";
import { readEnvelopes, resolveSubject, writeBundle } from "./files.js";
import { PREDICATE_TYPES } from "./predicate-types.js";
import { makeStatement } from "./statement.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-bundle-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const key = generateKeyPairSync("ed25519");
const digest = `sha256:${"1f".repeat(32)}`;
const envelopes = (["sbom", "vulns"] as const).map((name) =>
  signStatement(makeStatement([{ name: "app", digest }], PREDICATE_TYPES[name], {}), [
    { privateKey: key.privateKey },
  ]),
);

describe(".intoto.jsonl bundles", () => {
  it("writes one envelope per line and reads them back, each still verifying", () => {
    const file = join(scratch, "app.intoto.jsonl");
    writeBundle(file, envelopes);
    const text = formatBundle(envelopes);
    assert.equal(text.split("\n").length, 3);
    const read = readEnvelopes(file);
    assert.deepEqual(read, envelopes);
    for (const envelope of read) {
      assert.equal(
        verifyAttestation(envelope, [{ name: "ci", publicKey: key.publicKey }], { subjectDigest: digest })
          .valid,
        true,
      );
    }
  });

  it("skips blank lines", () => {
    assert.equal(parseBundle(`\n${formatBundle(envelopes)}\n\n`, "b.jsonl").length, 2);
  });

  const broken = [
    {
      name: "a line that is not JSON",
      text: `${JSON.stringify(envelopes[0])}\n{oops\n`,
      message: /^b\.jsonl:2: not JSON/,
    },
    {
      name: "a line that is not an envelope",
      text: '{"payload":"", "signatures":[]}\n',
      message: /^b\.jsonl:1: payloadType must be a string/,
    },
    { name: "nothing at all", text: "\n\n", message: /^b\.jsonl: the bundle holds no envelopes/ },
  ];
  for (const { name, text, message } of broken) {
    it(`names file:line for ${name}`, () => {
      assert.throws(() => parseBundle(text, "b.jsonl"), { message });
    });
  }
});

describe("resolveSubject", () => {
  it("takes a sha256 digest as given", async () => {
    assert.deepEqual(await resolveSubject(digest), { name: digest, digest });
    await assert.rejects(resolveSubject("sha256:abc"), /not a sha256 digest/);
  });

  it("hashes a file and takes a directory's artifact digest", async () => {
    const dir = join(scratch, "site");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "index.html"), "<p>hi</p>");
    assert.deepEqual(await resolveSubject(join(dir, "index.html")), {
      name: "index.html",
      digest: `sha256:${createHash("sha256").update("<p>hi</p>").digest("hex")}`,
    });
    assert.deepEqual(await resolveSubject(dir), { name: "site", digest: await artifactDigest(dir) });
  });
});
