/**
 * Attestation files on disk: reading an envelope or a bundle, writing a bundle, and working
 * out the digest an attestation's subject must carry.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { artifactDigest } from "../../artifact/digest.js";
import { UserError, errorMessage } from "../../errors.js";
import { formatBundle, parseBundle } from "./bundle.js";
import { parseEnvelope, type Envelope } from "./dsse.js";
import { parseSha256Digest } from "./statement.js";

/** An `.intoto.jsonl` bundle gives all its envelopes; any other file must hold one envelope as JSON. */
export function readEnvelopes(file: string): Envelope[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UserError(`cannot read ${file}: ${errorMessage(error)}`);
  }
  if (file.endsWith(".jsonl")) return parseBundle(text, file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${file}: not JSON (${errorMessage(error)})`);
  }
  return [parseEnvelope(value, file)];
}

export function writeBundle(file: string, envelopes: Envelope[]): void {
  writeFileSync(file, formatBundle(envelopes));
}

export interface ResolvedSubject {
  name: string;
  /** `sha256:<hex>` */
  digest: string;
}

/**
 * `sha256:<hex>` as given; a directory's Waybill artifact digest; a file's sha256. The name is
 * the file or folder name, or the digest itself when only a digest was given.
 */
export async function resolveSubject(subject: string): Promise<ResolvedSubject> {
  if (subject.startsWith("sha256:")) return { name: subject, digest: `sha256:${parseSha256Digest(subject)}` };
  const path = resolve(subject);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw new UserError(`subject ${subject}: ${errorMessage(error)}`);
  }
  const digest = isDirectory
    ? await artifactDigest(path)
    : `sha256:${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
  return { name: basename(path), digest };
}
