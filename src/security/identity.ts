/**
 * Who a mesh certificate speaks for, as a SPIFFE ID (https://spiffe.io/docs/latest/spiffe-about/spiffe-concepts/):
 * `spiffe://<trust domain>/service/<service>/stage/<stage>/proxy` for a stage's proxy and
 * `…/instance/<instance id>` for one instance. The trust domain is one control plane's, so two
 * control planes on a machine never take each other's certificates for their own.
 */

export type MeshRole = "instance" | "proxy";

export interface MeshIdentity {
  trustDomain: string;
  service: string;
  stage: string;
  role: MeshRole;
  instanceId?: string;
}

export interface ExpectedPeer {
  trustDomain: string;
  service: string;
  stage: string;
  role: MeshRole;
}

// The SPIFFE ID grammar: a trust domain of lowercase letters, digits, dots, dashes and
// underscores; path segments of letters, digits, dots, dashes and underscores, never "." or "..".
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_DNS_LABEL = 63;

function validSegment(segment: string): boolean {
  return SEGMENT.test(segment) && segment !== "." && segment !== "..";
}

export function isTrustDomain(text: string): boolean {
  return TRUST_DOMAIN.test(text);
}

export function spiffeUri(identity: MeshIdentity): string {
  const { trustDomain, service, stage, role, instanceId } = identity;
  if (!isTrustDomain(trustDomain)) {
    throw new Error(
      `"${trustDomain}" is not a SPIFFE trust domain (lowercase letters, digits, ".", "-", "_")`,
    );
  }
  const named: [string, string | undefined][] = [
    ["service", service],
    ["stage", stage],
    ["instance id", instanceId],
  ];
  for (const [what, value] of named) {
    if (value !== undefined && !validSegment(value)) {
      throw new Error(
        `the ${what} "${value}" cannot be part of a SPIFFE ID (letters, digits, ".", "-", "_")`,
      );
    }
  }
  const base = `spiffe://${trustDomain}/service/${service}/stage/${stage}`;
  if (role === "proxy") {
    if (instanceId !== undefined) throw new Error("a proxy's identity has no instance id");
    return `${base}/proxy`;
  }
  if (instanceId === undefined) throw new Error("an instance's identity needs its instance id");
  return `${base}/instance/${instanceId}`;
}

/** The identity a Waybill SPIFFE ID names, or null for any other URI (strict: no port, query or fragment). */
export function parseSpiffeUri(uri: string): MeshIdentity | null {
  const prefix = "spiffe://";
  if (!uri.startsWith(prefix)) return null;
  const [trustDomain, ...path] = uri.slice(prefix.length).split("/");
  if (trustDomain === undefined || !isTrustDomain(trustDomain)) return null;
  if (!path.every(validSegment)) return null;
  const [serviceTag, service, stageTag, stage, role, instanceId, ...rest] = path;
  if (serviceTag !== "service" || stageTag !== "stage" || service === undefined || stage === undefined) {
    return null;
  }
  if (role === "proxy" && instanceId === undefined) return { trustDomain, service, stage, role };
  if (role === "instance" && instanceId !== undefined && rest.length === 0) {
    return { trustDomain, service, stage, role, instanceId };
  }
  return null;
}

/** One control plane's trust domain: `waybill-<id>.local`, its first label cut to what DNS allows. */
export function trustDomainFor(controlPlaneId: string): string {
  const label = `waybill-${controlPlaneId}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .slice(0, MAX_DNS_LABEL)
    .replace(/-+$/, "");
  if (label === "waybill")
    throw new Error(`the control plane id "${controlPlaneId}" has no usable characters`);
  return `${label}.local`;
}

/**
 * Why a peer's certificate does not speak for the expected side of a stage, or null when one of
 * its URI SANs names that trust domain, service, stage and role. Of several URIs, the sentence is
 * about the one that comes closest.
 */
export function peerProblem(peerUris: readonly string[], expected: ExpectedPeer): string | null {
  const identities = peerUris.flatMap((uri) => parseSpiffeUri(uri) ?? []);
  if (identities.length === 0) {
    return peerUris.length === 0
      ? "the peer's certificate names no SPIFFE ID"
      : `the peer's certificate names no Waybill SPIFFE ID (it names ${peerUris.join(", ")})`;
  }
  let closest: { depth: number; sentence: string } | null = null;
  for (const identity of identities) {
    const problem = mismatch(identity, expected);
    if (problem === null) return null;
    if (closest === null || problem.depth > closest.depth) closest = problem;
  }
  return closest?.sentence ?? null;
}

const COMPARED = ["trustDomain", "service", "stage", "role"] as const;
const SPOKEN: Record<(typeof COMPARED)[number], string> = {
  trustDomain: "trust domain",
  service: "service",
  stage: "stage",
  role: "role",
};

/** How many fields match before the first that does not, and that field in words */
function mismatch(
  identity: MeshIdentity,
  expected: ExpectedPeer,
): { depth: number; sentence: string } | null {
  const depth = COMPARED.findIndex((field) => identity[field] !== expected[field]);
  if (depth === -1) return null;
  const field = COMPARED[depth] as (typeof COMPARED)[number];
  return {
    depth,
    sentence: `the peer's certificate names ${SPOKEN[field]} ${identity[field]}, not ${expected[field]}`,
  };
}

/**
 * The URI entries of a certificate's subjectAltName as Node prints it
 * (`DNS:localhost, IP Address:127.0.0.1, URI:spiffe://…`). Node quotes a value that holds a
 * comma or a quote as a JSON string, so that one entry cannot pass for two; such a value is
 * read back whole.
 */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  const entry = /\s*([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/y;
  const uris: string[] = [];
  while (entry.lastIndex < subjectAltName.length) {
    const found = entry.exec(subjectAltName);
    // Unreadable means no identity can be trusted from it.
    if (found === null) return [];
    const [, kind = "", raw = ""] = found;
    if (kind !== "URI") continue;
    uris.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return uris;
}
