import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { artifactDigest } from "../../artifact/digest.js";
import { UserError } from "../../errors.js";
import { runCommand } from "../../testing/cli.js";
import type { Envelope } from "../../evidence/attestation/dsse.js";
import { generateKeyPair } from "../../evidence/attestation/keys.js";
import { PREDICATE_TYPES } from "../../evidence/attestation/predicate-types.js";
import { attestCommand } from "./attest.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-attest-cmd-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ci = generateKeyPair("ed25519", join(scratch, "keys"));
const app = join(scratch, "app");
mkdirSync(app);
writeFileSync(join(app, "server.js"), "console.log('hi')\n");
const sbomFile = join(scratch, "sbom.json");
writeFileSync(sbomFile, JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6" }));

async function run(args: string[], options: Record<string, unknown>) {
  return runCommand(attestCommand, args, options, join(scratch, "state"));
}

describe("waybill attest", () => {
  it("prints the envelope of an in-toto statement about the folder's artifact digest", async () => {
    const { exitCode, stdout } = await run([], {
      type: "sbom",
      predicate: sbomFile,
      subject: app,
      key: ci.privateKeyPath,
    });
    assert.equal(exitCode, 0);
    const envelope = JSON.parse(stdout) as Envelope;
    assert.equal(envelope.payloadType, "application/vnd.in-toto+json");
    assert.equal(envelope.signatures[0]?.keyid, ci.keyid);
    const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString()) as {
      subject: unknown;
      predicateType: string;
    };
    assert.deepEqual(statement.subject, [
      { name: "app", digest: { sha256: (await artifactDigest(app)).slice(7) } },
    ]);
    assert.equal(statement.predicateType, PREDICATE_TYPES.sbom);
  });

  const badInputs = [
    { name: "an unknown type", options: { type: "sbomm" }, message: /unknown predicate type "sbomm"/ },
    {
      name: "a predicate that is not JSON",
      options: { predicate: join(scratch, "keys") },
      message: /cannot read predicate|not JSON/,
    },
    { name: "a missing subject", options: { subject: join(scratch, "nope") }, message: /subject .*nope/ },
    {
      name: "a public key instead of a private key",
      options: { key: ci.publicKeyPath },
      message: /not a readable PEM private key/,
    },
  ];
  for (const { name, options, message } of badInputs) {
    it(`refuses ${name} as bad input`, async () => {
      const base = { type: "sbom", predicate: sbomFile, subject: app, key: ci.privateKeyPath };
      await assert.rejects(
        run([], { ...base, ...options }),
        (error: unknown) => error instanceof UserError && error.exitCode === 2 && message.test(error.message),
      );
    });
  }

  it("appends to a .jsonl bundle and says what it signed", async () => {
    const bundle = join(scratch, "app.intoto.jsonl");
    for (const type of ["sbom", "vulns"]) {
      const { stdout } = await run([], {
        type,
        predicate: sbomFile,
        subject: app,
        key: ci.privateKeyPath,
        out: bundle,
      });
      assert.match(stdout, new RegExp(`^signed https://\\S+ for app sha256:[0-9a-f]{64} → ${bundle}\\n$`));
    }
    const lines = readFileSync(bundle, "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 2);
  });
});
