/**
 * DSSE (Dead Simple Signing Envelope, secure-systems-lab/dsse v1.0.0): the pre-authentication
 * encoding, signing and threshold verification. Pure: keys come in as KeyObjects.
 *
 * Verification never trusts the envelope's `keyid`: it is only a hint for which trusted key to
 * try first, and each trusted key counts once towards the threshold however many signatures it
 * made, so one key signing twice cannot pass for two signers.
 */
import { createHash, sign, verify, type KeyObject } from "node:crypto";
import { UserError } from "../../errors.js";

export interface EnvelopeSignature {
  keyid?: string;
  /** Base64 of the signature over PAE(payloadType, payload) */
  sig: string;
}

export interface Envelope {
  payloadType: string;
  /** Base64 of the serialized body */
  payload: string;
  signatures: EnvelopeSignature[];
}

export interface Signer {
  /** Written into the envelope as a hint; verifiers must not rely on it */
  keyid?: string;
  privateKey: KeyObject;
}

export interface TrustedKey {
  /** Lets the verifier try this key first when a signature names it */
  keyid?: string;
  publicKey: KeyObject;
  /** Reported in `acceptedBy` */
  name: string;
}

export interface VerifyEnvelopeOptions {
  /** How many distinct trusted keys must have signed; 1 unless told */
  threshold?: number;
  /** When given, an envelope of any other payload type is rejected even if its signatures hold */
  payloadTypes?: string[];
}

export interface EnvelopeVerdict {
  valid: boolean;
  reason: string;
  /** Names of the distinct trusted keys whose signature verified */
  acceptedBy: string[];
}

const utf8 = new TextEncoder();

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8.encode(payloadType);
  const header = utf8.encode(`DSSEv1 ${type.length} `);
  const middle = utf8.encode(` ${payload.length} `);
  return Buffer.concat([header, type, middle, payload]);
}

export function signEnvelope(payloadType: string, payload: Uint8Array, signers: Signer[]): Envelope {
  if (signers.length === 0) throw new UserError("signing an envelope needs at least one key");
  const message = pae(payloadType, payload);
  return {
    payloadType,
    payload: Buffer.from(payload).toString("base64"),
    signatures: signers.map((signer) => {
      const sig = sign(digestFor(signer.privateKey), message, signer.privateKey).toString("base64");
      return signer.keyid === undefined ? { sig } : { keyid: signer.keyid, sig };
    }),
  };
}

export function verifyEnvelope(
  envelope: Envelope,
  trustedKeys: TrustedKey[],
  options: VerifyEnvelopeOptions = {},
): EnvelopeVerdict {
  const threshold = options.threshold ?? 1;
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new UserError(`threshold must be a whole number of at least 1, not ${threshold}`);
  }
  const payload = decodeBase64(envelope.payload);
  if (payload === undefined) return rejected("malformed base64 in payload");
  const signatures: { keyid: string | undefined; bytes: Uint8Array }[] = [];
  for (const [index, signature] of envelope.signatures.entries()) {
    const bytes = decodeBase64(signature.sig);
    if (bytes === undefined) return rejected(`malformed base64 in signatures[${index}].sig`);
    signatures.push({ keyid: signature.keyid, bytes });
  }
  if (signatures.length === 0) return rejected("the envelope has no signatures");

  const message = pae(envelope.payloadType, payload);
  const candidates = distinctKeys(trustedKeys);
  const accepted = new Set<CandidateKey>();
  for (const signature of signatures) {
    const hinted = candidates.filter((key) => key.keyid !== undefined && key.keyid === signature.keyid);
    const others = candidates.filter((key) => !hinted.includes(key));
    const signer = [...hinted, ...others].find(
      (key) => !accepted.has(key) && signatureHolds(message, signature.bytes, key.publicKey),
    );
    if (signer !== undefined) accepted.add(signer);
    if (accepted.size >= threshold) break;
  }
  const acceptedBy = [...accepted].map((key) => key.name);
  if (accepted.size === 0) return rejected("no signature verified with a trusted key");
  if (accepted.size < threshold) {
    return { valid: false, reason: `threshold ${threshold} not met (${accepted.size} valid)`, acceptedBy };
  }
  // The spec checks the type only after the signatures, so an unsigned envelope's type is never trusted.
  if (options.payloadTypes !== undefined && !options.payloadTypes.includes(envelope.payloadType)) {
    const expected = options.payloadTypes.map((type) => JSON.stringify(type)).join(", ");
    return {
      valid: false,
      reason: `payload type ${JSON.stringify(envelope.payloadType)} is not supported (expected ${expected})`,
      acceptedBy,
    };
  }
  return { valid: true, reason: `signed by ${acceptedBy.join(", ")}`, acceptedBy };
}

/** Decodes the payload of an envelope, or throws a UserError when it is not base64. */
export function decodePayload(envelope: Envelope): Uint8Array {
  const payload = decodeBase64(envelope.payload);
  if (payload === undefined) throw new UserError("malformed base64 in the envelope payload");
  return payload;
}

/**
 * Checks the shape of a parsed JSON envelope. Unknown fields are ignored and a missing keyid is
 * the same as an empty one, as the envelope spec asks.
 */
export function parseEnvelope(value: unknown, where = "envelope"): Envelope {
  if (!isRecord(value)) throw new UserError(`${where}: not a DSSE envelope (expected a JSON object)`);
  const { payloadType, payload, signatures } = value;
  if (typeof payloadType !== "string") throw new UserError(`${where}: payloadType must be a string`);
  if (typeof payload !== "string") throw new UserError(`${where}: payload must be a string`);
  if (!Array.isArray(signatures)) throw new UserError(`${where}: signatures must be an array`);
  return {
    payloadType,
    payload,
    signatures: signatures.map((signature: unknown, index) => {
      if (!isRecord(signature) || typeof signature.sig !== "string") {
        throw new UserError(`${where}: signatures[${index}].sig must be a string`);
      }
      const keyid = signature.keyid;
      if (keyid !== undefined && typeof keyid !== "string") {
        throw new UserError(`${where}: signatures[${index}].keyid must be a string`);
      }
      return keyid === undefined || keyid === "" ? { sig: signature.sig } : { keyid, sig: signature.sig };
    }),
  };
}

const standardBase64 = /^[A-Za-z0-9+/]*$/;
const urlSafeBase64 = /^[A-Za-z0-9\-_]*$/;

/**
 * Standard or URL-safe base64, padded or not; undefined for anything else. Buffer.from alone
 * would silently skip stray characters, which would let two different strings decode alike.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const unpadded = text.replace(/={1,2}$/, "");
  const padded = unpadded.length !== text.length;
  if (padded && text.length % 4 !== 0) return undefined;
  if (unpadded.length % 4 === 1) return undefined;
  if (standardBase64.test(unpadded)) return Buffer.from(unpadded, "base64");
  if (urlSafeBase64.test(unpadded)) return Buffer.from(unpadded, "base64url");
  return undefined;
}

interface CandidateKey extends TrustedKey {
  spki: string;
}

/** The same public key listed under two names still counts as one signer. */
function distinctKeys(trustedKeys: TrustedKey[]): CandidateKey[] {
  const seen = new Map<string, CandidateKey>();
  for (const key of trustedKeys) {
    const spki = createHash("sha256")
      .update(key.publicKey.export({ type: "spki", format: "der" }))
      .digest("hex");
    if (!seen.has(spki)) seen.set(spki, { ...key, spki });
  }
  return [...seen.values()];
}

function signatureHolds(message: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  const algorithm = digestFor(publicKey);
  if (attempt(() => verify(algorithm, message, publicKey, signature))) return true;
  // ECDSA signatures come DER-encoded from most tools but as raw r‖s from some (the DSSE spec's own example).
  return (
    publicKey.asymmetricKeyType === "ec" &&
    signature.length === 64 &&
    attempt(() => verify(algorithm, message, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature))
  );
}

/** Ed25519 hashes internally (node:crypto wants no digest); ECDSA P-256 signs a SHA-256 digest. */
function digestFor(key: KeyObject): string | null {
  if (key.asymmetricKeyType === "ed25519") return null;
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")
    return "sha256";
  throw new UserError(
    `unsupported key type ${key.asymmetricKeyType ?? "unknown"}: Waybill uses ed25519 or ECDSA P-256 keys`,
  );
}

/** A malformed DER signature makes node:crypto throw rather than answer false. */
function attempt(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

function rejected(reason: string): EnvelopeVerdict {
  return { valid: false, reason, acceptedBy: [] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
