/**
 * Attestations: in-toto statements in DSSE envelopes. Verifying one checks, in order, that the
 * payload parses as a statement, that trusted keys allowed to sign its predicate type signed it,
 * and that it is about the expected artifact and predicate type. Pure.
 */
import { UserError } from "../../errors.js";
import {
  decodeBase64,
  signEnvelope,
  verifyEnvelope,
  type Envelope,
  type Signer,
  type TrustedKey,
} from "./dsse.js";
import {
  IN_TOTO_PAYLOAD_TYPE,
  describeSubjects,
  parseStatement,
  serializeStatement,
  subjectMatches,
  type Statement,
} from "./statement.js";

/** A trusted key, limited to some predicate types when `predicateTypes` is given (URIs). */
export interface PolicyKey extends TrustedKey {
  predicateTypes?: string[];
}

export interface VerifyAttestationOptions {
  threshold?: number;
  /** `sha256:<hex>`: some subject must carry it */
  subjectDigest?: string;
  /** URI the statement's predicateType must equal */
  predicateType?: string;
}

export interface AttestationVerdict {
  valid: boolean;
  reason: string;
  /** Empty when the payload is not a statement */
  predicateType: string;
  /** `name sha256:…` per subject */
  subjects: string[];
  acceptedBy: string[];
  /** Present when the signature held, whatever the subject and type checks said */
  statement?: Statement;
}

export function signStatement(statement: Statement, signers: Signer[]): Envelope {
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, serializeStatement(statement), signers);
}

/**
 * The predicate type an envelope claims, read without checking any signature: only for picking
 * an envelope out of a bundle, never for trusting it.
 */
export function claimedPredicateType(envelope: Envelope): string | undefined {
  const payload = decodeBase64(envelope.payload);
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE || payload === undefined) return undefined;
  try {
    return parseStatement(payload).predicateType;
  } catch (error) {
    if (error instanceof UserError) return undefined;
    throw error;
  }
}

/** Keys allowed to sign this predicate type (URI). */
export function keysForPredicate(keys: PolicyKey[], predicateType: string): PolicyKey[] {
  return keys.filter((key) => key.predicateTypes === undefined || key.predicateTypes.includes(predicateType));
}

export function verifyAttestation(
  envelope: Envelope,
  keys: PolicyKey[],
  options: VerifyAttestationOptions = {},
): AttestationVerdict {
  const unread = { predicateType: "", subjects: [], acceptedBy: [] };
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return {
      valid: false,
      reason: `payload type "${envelope.payloadType}" is not ${IN_TOTO_PAYLOAD_TYPE}`,
      ...unread,
    };
  }
  const payload = decodeBase64(envelope.payload);
  if (payload === undefined) return { valid: false, reason: "malformed base64 in payload", ...unread };
  let statement: Statement;
  try {
    statement = parseStatement(payload);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { valid: false, reason: error.message, ...unread };
  }
  // The predicate type read here is not trusted yet: it only picks the keys, and the signature
  // check below fails if it was altered.
  const described = { predicateType: statement.predicateType, subjects: describeSubjects(statement) };
  const allowed = keysForPredicate(keys, statement.predicateType);
  if (allowed.length === 0) {
    return {
      valid: false,
      reason: `no trusted key may sign ${statement.predicateType}`,
      ...described,
      acceptedBy: [],
    };
  }
  const signed = verifyEnvelope(envelope, allowed, { threshold: options.threshold });
  if (!signed.valid)
    return { valid: false, reason: signed.reason, ...described, acceptedBy: signed.acceptedBy };
  const verified = { ...described, acceptedBy: signed.acceptedBy, statement };
  if (options.predicateType !== undefined && statement.predicateType !== options.predicateType) {
    return {
      valid: false,
      reason: `predicate type ${statement.predicateType}, expected ${options.predicateType}`,
      ...verified,
    };
  }
  if (options.subjectDigest !== undefined && !subjectMatches(statement, options.subjectDigest)) {
    return {
      valid: false,
      reason: `no subject matches ${options.subjectDigest} (subjects: ${described.subjects.join(", ")})`,
      ...verified,
    };
  }
  return { valid: true, reason: signed.reason, ...verified };
}
