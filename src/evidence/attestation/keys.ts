/**
 * Signing keys on disk: generating a pair as PEM files and loading them back. A keyid is the
 * sha256 of the public key's SPKI DER, so anyone holding the public key can recompute it.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError, errorMessage } from "../../errors.js";
import type { Signer } from "./dsse.js";

export type KeyType = "ed25519" | "ecdsa-p256";
export const keyTypes: readonly KeyType[] = ["ed25519", "ecdsa-p256"];

export function isKeyType(value: unknown): value is KeyType {
  return keyTypes.some((type) => type === value);
}

export interface GeneratedKeyFiles {
  type: KeyType;
  keyid: string;
  privateKeyPath: string;
  publicKeyPath: string;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
}

/** The type of a key Waybill can sign and verify with, or undefined for any other key. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")
    return "ecdsa-p256";
  return undefined;
}

/**
 * Writes `<type>-<first 12 hex of keyid>.key` (PKCS#8, mode 0600) and `.pub` (SPKI) into outDir.
 * Existing files are never overwritten: losing a signing key silently would be worse than an error.
 */
export function generateKeyPair(type: KeyType, outDir: string): GeneratedKeyFiles {
  const { privateKey, publicKey } =
    type === "ed25519"
      ? generateKeyPairSync("ed25519")
      : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const keyid = keyIdOf(publicKey);
  const base = join(outDir, `${type}-${keyid.slice(0, 12)}`);
  const privateKeyPath = `${base}.key`;
  const publicKeyPath = `${base}.pub`;
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(privateKeyPath, privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
      flag: "wx",
    });
    writeFileSync(publicKeyPath, publicKey.export({ type: "spki", format: "pem" }), {
      mode: 0o644,
      flag: "wx",
    });
  } catch (error) {
    throw new UserError(`cannot write the key pair into ${outDir}: ${errorMessage(error)}`);
  }
  return { type, keyid, privateKeyPath, publicKeyPath };
}

/** A signer from a PEM private key file, with its keyid as the envelope hint. */
export function loadSigner(path: string): Signer {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path));
  } catch (error) {
    throw new UserError(`${path}: not a readable PEM private key (${errorMessage(error)})`);
  }
  requireSupported(privateKey, path);
  return { keyid: keyIdOf(createPublicKey(privateKey)), privateKey };
}

/**
 * A public key from PEM text or from a PEM file. A private key is accepted too and reduced to
 * its public half, so `--key` can name either file of a pair.
 */
export function loadPublicKey(pemOrPath: string, where = pemOrPath): KeyObject {
  let pem: string;
  if (pemOrPath.includes("-----BEGIN")) pem = pemOrPath;
  else {
    try {
      pem = readFileSync(pemOrPath, "utf8");
    } catch (error) {
      throw new UserError(`${where}: cannot read the key file (${errorMessage(error)})`);
    }
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch (error) {
    throw new UserError(`${where}: not a PEM public key (${errorMessage(error)})`);
  }
  requireSupported(publicKey, where);
  return publicKey;
}

function requireSupported(key: KeyObject, where: string): void {
  if (keyTypeOf(key) === undefined) {
    const details = key.asymmetricKeyDetails?.namedCurve;
    const found = `${key.asymmetricKeyType ?? "unknown"}${details === undefined ? "" : ` ${details}`}`;
    throw new UserError(`${where}: a ${found} key; Waybill signs with ed25519 or ECDSA P-256 keys`);
  }
}
