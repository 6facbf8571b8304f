import type { ComponentHash, HashAlgorithm } from "./types.js";

const SRI_ALGORITHMS: Record<string, HashAlgorithm> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

const HEX_LENGTHS: Record<HashAlgorithm, number> = {
  "SHA-1": 40,
  "SHA-256": 64,
  "SHA-384": 96,
  "SHA-512": 128,
};

/**
 * An SRI string (`sha512-<base64> sha1-<base64>`, space separated) as CycloneDX hashes.
 * Unknown algorithms and malformed digests are dropped: a wrong hash is worse than none.
 */
export function hashesFromIntegrity(integrity: string | undefined): ComponentHash[] {
  if (integrity === undefined) return [];
  const hashes: ComponentHash[] = [];
  for (const token of integrity.trim().split(/\s+/)) {
    const dash = token.indexOf("-");
    if (dash < 0) continue;
    const alg = SRI_ALGORITHMS[token.slice(0, dash).toLowerCase()];
    if (alg === undefined) continue;
    // SRI allows `?options` after the digest
    const base64 = token.slice(dash + 1).split("?")[0] ?? "";
    // Decoded bytes are lowercase hex already: only their number needs checking
    const content = Buffer.from(base64, "base64").toString("hex");
    if (content.length === HEX_LENGTHS[alg]) hashes.push({ alg, content });
  }
  return hashes;
}

/** A hex digest checked for the algorithm's length, or undefined. */
export function hexHash(alg: HashAlgorithm, hex: string): ComponentHash | undefined {
  const content = hex.toLowerCase();
  return content.length === HEX_LENGTHS[alg] && /^[0-9a-f]+$/.test(content) ? { alg, content } : undefined;
}
