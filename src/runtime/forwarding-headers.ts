/**
 * Header rewriting for the stage proxy (RFC 9110 §7.6.1): hop-by-hop headers describe one
 * connection, so they must not cross the proxy; the forwarded-* headers tell the app who the
 * client was.
 *
 * Headers are read and written as raw lists (`rawHeaders`: name, value, name, value…), in one pass
 * each way: node builds a message's header object only when asked, and the proxy never asks, which
 * is a good part of its cost per request. Names keep their case; repeated lines stay repeated.
 */
import { ROUTE_HEADER, TRANSPORT_HEADER } from "./routing.js";

/** A raw header list: name, value, name, value… as in `IncomingMessage.rawHeaders` */
export type RawHeaders = readonly string[];

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** What the proxy needs to know of a request's head before it forwards it */
export interface RequestHead {
  /** The x-waybill-route header, if any (the first line when repeated) */
  routePin: string | undefined;
  /** The x-waybill-transport header, if any */
  transport: string | undefined;
  /** A body follows the head: chunked, or a content length above zero */
  hasBody: boolean;
  /** That body comes chunked (Transfer-Encoding) */
  chunked: boolean;
}

const HEAD_NAME_LENGTHS = new Set(
  [ROUTE_HEADER, TRANSPORT_HEADER, "transfer-encoding", "content-length"].map((name) => name.length),
);

export function readRequestHead(raw: RawHeaders): RequestHead {
  let routePin: string | undefined;
  let transport: string | undefined;
  let hasBody = false;
  let chunked = false;
  for (let index = 0; index < raw.length; index += 2) {
    const rawName = raw[index] as string;
    // Only a name as long as one of the four is lower-cased: most lines are none of them.
    if (!HEAD_NAME_LENGTHS.has(rawName.length)) continue;
    const name = rawName.toLowerCase();
    const value = raw[index + 1] as string;
    if (name === ROUTE_HEADER) routePin ??= value;
    else if (name === TRANSPORT_HEADER) transport ??= value;
    // Node's server takes a request's Transfer-Encoding only when it ends in chunked (else 400).
    else if (name === "transfer-encoding") hasBody = chunked = true;
    else if (name === "content-length" && value.trim() !== "0") hasBody = true;
  }
  return { routePin, transport, hasBody, chunked };
}

/** Adds the names a Connection line lists beyond the hop-by-hop ones (lower-cased) to `listed` */
function addListed(value: string, listed: Set<string> | null): Set<string> | null {
  // The usual lines, without splitting them
  if (HOP_BY_HOP.has(value) || value === "close") return listed;
  for (const token of value.split(",")) {
    const name = token.trim().toLowerCase();
    // Most name only keep-alive or close, hop-by-hop anyway: no set for them.
    if (name === "" || HOP_BY_HOP.has(name) || name === "close") continue;
    listed ??= new Set();
    listed.add(name);
  }
  return listed;
}

/**
 * Copies the end-to-end lines into `into`, skipping hop-by-hop names and names the Connection
 * header lists. `consume` sees every line first (its name in lower case) and returns true for the
 * lines the caller writes itself.
 */
function copyEndToEnd(
  raw: RawHeaders,
  into: string[],
  consume: (lowerName: string, value: string) => boolean,
): void {
  const start = into.length;
  let listed: Set<string> | null = null;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index] as string;
    const value = raw[index + 1] as string;
    const lower = name.toLowerCase();
    if (lower === "connection") listed = addListed(value, listed);
    if (consume(lower, value) || HOP_BY_HOP.has(lower)) continue;
    into.push(name, value);
  }
  if (listed === null) return;
  // Rare (a Connection line naming an end-to-end header): one pass, only then, takes those out.
  let kept = start;
  for (let index = start; index < into.length; index += 2) {
    if (listed.has((into[index] as string).toLowerCase())) continue;
    into[kept] = into[index] as string;
    into[kept + 1] = into[index + 1] as string;
    kept += 2;
  }
  into.length = kept;
}

export function withoutHopByHop(raw: RawHeaders): string[] {
  const result: string[] = [];
  copyEndToEnd(raw, result, () => false);
  return result;
}

/** A repeated header's values, joined as node joins them */
const joinValue = (joined: string | undefined, value: string): string =>
  joined === undefined ? value : `${joined}, ${value}`;

/**
 * @param upstreamHost the Host line for a request without one (HTTP/1.0), which the upstream's
 * HTTP/1.1 requires
 */
export function upstreamRequestHeaders(
  raw: RawHeaders,
  clientAddress: string,
  upstreamHost: string,
): string[] {
  const result: string[] = [];
  let hasHost = false;
  let priorHops: string | undefined;
  let proto: string | undefined;
  let transferEncoding: string | undefined;
  copyEndToEnd(raw, result, (name, value) => {
    if (name === "x-forwarded-for") priorHops = joinValue(priorHops, value);
    else if (name === "x-forwarded-proto") proto = joinValue(proto, value);
    else if (name === "transfer-encoding") transferEncoding = joinValue(transferEncoding, value);
    else {
      if (name === "host") hasHost = true;
      return false;
    }
    return true;
  });
  if (!hasHost) result.push("host", upstreamHost);
  result.push("x-forwarded-for", priorHops ? `${priorHops}, ${clientAddress}` : clientAddress);
  // A front proxy that terminated TLS knows better than this plain-HTTP hop.
  result.push("x-forwarded-proto", proto ?? "http");
  // Transfer-Encoding is hop-by-hop, but the body goes upstream chunked again (`forward.ts`), so
  // the codings the client applied travel with it.
  if (transferEncoding !== undefined) result.push("transfer-encoding", transferEncoding);
  return result;
}

export const INSTANCE_HEADER = "x-waybill-instance";

export function downstreamResponseHeaders(raw: RawHeaders, instanceId: string): string[] {
  const result: string[] = [];
  copyEndToEnd(raw, result, (name) => name === INSTANCE_HEADER);
  result.push(INSTANCE_HEADER, instanceId);
  return result;
}
