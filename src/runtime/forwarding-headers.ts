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
}

export function readRequestHead(raw: RawHeaders): RequestHead {
  let routePin: string | undefined;
  let transport: string | undefined;
  let hasBody = false;
  for (let index = 0; index < raw.length; index += 2) {
    const name = (raw[index] as string).toLowerCase();
    const value = raw[index + 1] as string;
    if (name === ROUTE_HEADER) routePin ??= value;
    else if (name === TRANSPORT_HEADER) transport ??= value;
    else if (name === "transfer-encoding") hasBody = true;
    else if (name === "content-length" && value.trim() !== "0") hasBody = true;
  }
  return { routePin, transport, hasBody };
}

/** Lower-cased names the Connection header lines list beyond the hop-by-hop ones, or null */
function listedInConnection(raw: RawHeaders): Set<string> | null {
  let listed: Set<string> | null = null;
  for (let index = 0; index < raw.length; index += 2) {
    if ((raw[index] as string).toLowerCase() !== "connection") continue;
    for (const token of (raw[index + 1] as string).split(",")) {
      const name = token.trim().toLowerCase();
      // Most name only keep-alive or close, hop-by-hop anyway: no set for them.
      if (name === "" || HOP_BY_HOP.has(name) || name === "close") continue;
      listed ??= new Set();
      listed.add(name);
    }
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
  const listed = listedInConnection(raw);
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index] as string;
    const value = raw[index + 1] as string;
    const lower = name.toLowerCase();
    if (consume(lower, value) || HOP_BY_HOP.has(lower) || listed?.has(lower) === true) continue;
    into.push(name, value);
  }
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
  // Transfer-Encoding is hop-by-hop, but keeping it makes node frame the streamed body the same
  // way upstream (chunked) instead of guessing from the method.
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
