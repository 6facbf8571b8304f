/**
 * The control plane's signing identity and trust: an ed25519 key made on first start under
 * `<state>/keys`, and `<state>/trust.yaml`, which trusts that key for every predicate type
 * until a person edits it (adding a CI's key, or narrowing what each key may sign). The trust
 * file is read again at every check, so an edit applies to the next run.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Envelope, Signer } from "./attestation/dsse.js";
import { signStatement, verifyAttestation, type AttestationVerdict } from "./attestation/attestation.js";
import { generateKeyPair, loadSigner } from "./attestation/keys.js";
import { predicateShortNames } from "./attestation/predicate-types.js";
import { makeStatement } from "./attestation/statement.js";
import { loadTrustFile, policyKeysFor } from "./attestation/trust.js";

export class EvidenceService {
  private constructor(
    private readonly signer: Signer,
    private readonly trustFile: string,
  ) {}

  static open(stateDir: string): EvidenceService {
    const keysDir = join(stateDir, "keys");
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    let privateKey = readdirSync(keysDir).find((name) => name.endsWith(".key"));
    if (privateKey === undefined) privateKey = generateKeyPair("ed25519", keysDir).privateKeyPath;
    const keyPath = join(keysDir, privateKey.replace(/^.*\//, ""));
    const trustFile = join(stateDir, "trust.yaml");
    if (!existsSync(trustFile)) {
      const publicKey = `keys/${privateKey.replace(/^.*\//, "").replace(/\.key$/, ".pub")}`;
      writeFileSync(
        trustFile,
        "# Keys whose attestations Waybill trusts, and which predicate types each may sign.\n" +
          "# Add your CI's public key here to let it sign its own evidence (waybill attest).\n" +
          `keys:\n  - name: waybill-control-plane\n    publicKey: ${publicKey}\n` +
          `    predicates: [${predicateShortNames.join(", ")}]\n`,
      );
    }
    return new EvidenceService(loadSigner(keyPath), trustFile);
  }

  sign(predicateType: string, predicate: unknown, subject: { name: string; digest: string }): Envelope {
    return signStatement(makeStatement([subject], predicateType, predicate), [this.signer]);
  }

  /** Checks signature, subject and signer against the trust file as it is now. */
  verify(envelope: Envelope, predicateType: string, digest: string): AttestationVerdict {
    const policy = loadTrustFile(this.trustFile);
    return verifyAttestation(envelope, policyKeysFor(policy, predicateType), {
      subjectDigest: digest,
      predicateType,
    });
  }
}
