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
import { verifyCommand } from "./verify.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-verify-cmd-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ci = generateKeyPair("ed25519", join(scratch, "keys"));
const other = generateKeyPair("ecdsa-p256", join(scratch, "keys"));
const app = join(scratch, "app");
mkdirSync(app);
writeFileSync(join(app, "server.js"), "console.log('hi')\n");
const sbomFile = join(scratch, "sbom.json");
writeFileSync(sbomFile, JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6" }));

async function run(command: typeof verifyCommand, args: string[], options: Record<string, unknown>) {
  const { exitCode, stdout } = await runCommand(command, args, options, join(scratch, "state"));
  return { exitCode, stdout };
}

async function attest(type: string, out: string, key = ci.privateKeyPath) {
  return run(attestCommand, [], { type, predicate: sbomFile, subject: app, key, out });
}

describe("waybill verify", () => {
  const envelopeFile = join(scratch, "sbom.json.dsse");
  const bundleFile = join(scratch, "app.intoto.jsonl");

  it("verifies an envelope it signed: exit 0 and the JSON report", async () => {
    await attest("sbom", envelopeFile);
    const { exitCode, stdout } = await run(verifyCommand, [envelopeFile], {
      key: [ci.publicKeyPath],
      subject: app,
      type: "sbom",
      json: true,
    });
    assert.equal(exitCode, 0, stdout);
    assert.deepEqual(JSON.parse(stdout), {
      valid: true,
      reason: `signed by ${ci.publicKeyPath.split("/").pop()}`,
      predicateType: PREDICATE_TYPES.sbom,
      subjects: [`app ${await artifactDigest(app)}`],
      signedBy: [ci.publicKeyPath.split("/").pop()],
    });
  });

  it("exits 1 for a key it does not trust, another subject, or a tampered payload", async () => {
    await attest("sbom", envelopeFile);
    const untrusted = await run(verifyCommand, [envelopeFile], { key: [other.publicKeyPath] });
    assert.deepEqual(untrusted, {
      exitCode: 1,
      stdout: "invalid: no signature verified with a trusted key\n",
    });

    const otherSubject = await run(verifyCommand, [envelopeFile], {
      key: [ci.publicKeyPath],
      subject: `sha256:${"0".repeat(64)}`,
      json: true,
    });
    assert.equal(otherSubject.exitCode, 1);
    assert.match(
      (JSON.parse(otherSubject.stdout) as { reason: string }).reason,
      /^no subject matches sha256:0{64}/,
    );

    const envelope = JSON.parse(readFileSync(envelopeFile, "utf8")) as Envelope;
    const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString()) as {
      predicate: { specVersion: string };
    };
    statement.predicate.specVersion = "1.5";
    const tampered = join(scratch, "tampered.json");
    writeFileSync(
      tampered,
      JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString("base64") }),
    );
    assert.equal((await run(verifyCommand, [tampered], { key: [ci.publicKeyPath] })).exitCode, 1);
  });

  it("honours the predicate types a trust file allows each key", async () => {
    await attest("sbom", envelopeFile);
    const trust = join(scratch, "trust.yaml");
    writeFileSync(
      trust,
      `keys:\n  - name: ci\n    publicKey: ${ci.publicKeyPath}\n    predicates: [provenance]\n`,
    );
    const { exitCode, stdout } = await run(verifyCommand, [envelopeFile], { key: [], trust });
    assert.equal(exitCode, 1);
    assert.equal(stdout, `invalid: no trusted key may sign ${PREDICATE_TYPES.sbom}\n`);
    writeFileSync(
      trust,
      `keys:\n  - name: ci\n    publicKey: ${ci.publicKeyPath}\n    predicates: [provenance, sbom]\n`,
    );
    assert.match(
      (await run(verifyCommand, [envelopeFile], { key: [], trust })).stdout,
      /^valid: https:\/\/cyclonedx\.org\/bom for app sha256:[0-9a-f]{64} \(signed by ci\)\n$/,
    );
  });

  it("reports each envelope of a bundle, or the first of the --type asked for", async () => {
    await attest("vulns", bundleFile);
    await attest("sbom", bundleFile, other.privateKeyPath);
    const all = await run(verifyCommand, [bundleFile], { key: [ci.publicKeyPath], json: true });
    assert.equal(all.exitCode, 1);
    assert.deepEqual(
      (JSON.parse(all.stdout) as { valid: boolean; predicateType: string }[]).map(
        ({ valid, predicateType }) => ({ valid, predicateType }),
      ),
      [
        { valid: true, predicateType: PREDICATE_TYPES.vulns },
        { valid: false, predicateType: PREDICATE_TYPES.sbom },
      ],
    );
    const vulns = await run(verifyCommand, [bundleFile], {
      key: [ci.publicKeyPath],
      type: "vulns",
      json: true,
    });
    assert.equal(vulns.exitCode, 0);
    assert.equal(
      (JSON.parse(vulns.stdout) as { predicateType: string }).predicateType,
      PREDICATE_TYPES.vulns,
    );
    const missing = await run(verifyCommand, [bundleFile], { key: [ci.publicKeyPath], type: "provenance" });
    assert.deepEqual(missing, {
      exitCode: 1,
      stdout: `invalid: no attestation of type ${PREDICATE_TYPES.provenance} in ${bundleFile}\n`,
    });
  });

  const badInputs = [
    { name: "no trusted key", args: ["x.json"], options: { key: [] }, message: /at least one trusted key/ },
    {
      name: "an unreadable envelope",
      args: [join(scratch, "none.json")],
      options: { key: [ci.publicKeyPath] },
      message: /cannot read/,
    },
    {
      name: "a file that is not an envelope",
      args: [sbomFile],
      options: { key: [ci.publicKeyPath] },
      message: /payloadType must be a string/,
    },
    {
      name: "a bad threshold",
      args: [sbomFile],
      options: { key: [ci.publicKeyPath], threshold: "two" },
      message: /^--threshold: expected a whole number of at least 1, got "two"$/,
    },
  ];
  for (const { name, args, options, message } of badInputs) {
    it(`treats ${name} as bad input (exit 2)`, async () => {
      await assert.rejects(
        run(verifyCommand, args, options),
        (error: unknown) => error instanceof UserError && error.exitCode === 2 && message.test(error.message),
      );
    });
  }
});
