/**
 * The stage policy end to end, through the real CLI: production refuses an artifact whose
 * required evidence is missing, or signed by a key the trust file does not list, each time
 * with the reason; once a trusted key's attestation is added, the same artifact goes in.
 */
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, replaceStages, runCli, scratchExample } from "../testing/cli.js";

const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

function requireProvenanceInProduction(): void {
  replaceStages(scratch.serviceDir, [
    "{ name: dev, test: false, gate: false }",
    "{ name: production, test: false, gate: false, requires: [sbom, provenance] }",
  ]);
}

test(
  "production refuses missing or untrusted evidence with the reason, and accepts it once a trusted key attests",
  { timeout: 300_000 },
  async () => {
    requireProvenanceInProduction();
    const first = await cli(["ship", "hello", "--version", "1.0.0", "--json"]);
    assert.equal(first.code, 1, first.stderr);
    const refused = JSON.parse(first.stdout) as {
      runs: { stage: string; state: string; reason: string; digest: string }[];
    };
    const production = refused.runs.find((run) => run.stage === "production");
    assert.equal(production?.state, "failed");
    assert.match(
      production?.reason ?? "",
      /^verify-evidence: the stage policy denies sha256:[0-9a-f]{64}: no provenance attestation was recorded for this artifact$/,
    );
    const digest = production?.digest ?? "";

    const keysDir = join(scratch.root, "ci-keys");
    assert.equal((await cli(["keys", "generate", "--out", keysDir])).code, 0);
    const privateKey = join(keysDir, readdirSync(keysDir).find((name) => name.endsWith(".key")) ?? "");
    const predicate = join(scratch.root, "provenance.json");
    writeFileSync(
      predicate,
      JSON.stringify({
        buildDefinition: {
          buildType: "https://example.com/ci/v1",
          externalParameters: { workflow: "release" },
        },
        runDetails: { builder: { id: "https://example.com/ci" } },
      }),
    );
    const envelope = join(scratch.root, "provenance.intoto.json");
    const attested = await cli([
      "attest",
      "--type",
      "provenance",
      "--predicate",
      predicate,
      "--subject",
      digest,
      "--key",
      privateKey,
      "--out",
      envelope,
    ]);
    assert.equal(attested.code, 0, attested.stderr);
    const added = await cli(["evidence", digest, "--add", envelope]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /recorded https:\/\/slsa\.dev\/provenance\/v1: does not verify/);

    const untrusted = await cli(["ship", "hello", "--version", "1.0.0", "--json"]);
    assert.equal(untrusted.code, 1);
    const stillRefused = JSON.parse(untrusted.stdout) as { runs: { stage: string; reason: string }[] };
    assert.match(
      stillRefused.runs.find((run) => run.stage === "production")?.reason ?? "",
      /no provenance attestation verifies/,
    );

    const publicKey = privateKey.replace(/\.key$/, ".pub");
    appendFileSync(
      join(scratch.stateDir, "trust.yaml"),
      `  - name: ci\n    publicKey: ${publicKey}\n    predicates: [provenance]\n`,
    );
    const accepted = await cli(["ship", "hello", "--version", "1.0.0", "--json"]);
    assert.equal(accepted.code, 0, accepted.stdout + accepted.stderr);
    const runs = (JSON.parse(accepted.stdout) as { runs: { stage: string; state: string }[] }).runs;
    assert.deepEqual(
      runs.map((run) => [run.stage, run.state]),
      [
        ["dev", "succeeded"],
        ["production", "succeeded"],
      ],
    );

    const evidence = await cli(["evidence", "hello@1.0.0", "--json"]);
    const view = JSON.parse(evidence.stdout) as {
      attestations: { predicateType: string; valid: boolean; signedBy: string[] }[];
    };
    assert.ok(
      view.attestations.some(
        (a) => a.predicateType === "https://slsa.dev/provenance/v1" && a.valid && a.signedBy.includes("ci"),
      ),
    );
    const bundle = join(scratch.root, "hello.intoto.jsonl");
    assert.equal((await cli(["evidence", "hello@1.0.0", "--bundle", bundle])).code, 0);
    const verified = await cli([
      "verify",
      bundle,
      "--key",
      publicKey,
      "--type",
      "provenance",
      "--subject",
      digest,
      "--json",
    ]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { valid: boolean }).valid, true);
  },
);
