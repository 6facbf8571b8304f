/**
 * Header rewriting for the stage proxy (RFC 9110 §7.6.1): hop-by-hop headers describe one
 * connection, so they must not cross the proxy; the forwarded-* headers tell the app who the
 * client was.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

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

export function withoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listedInConnection = new Set(
    (headers.connection ?? "")
      .split(",")
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ""),
  );
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listedInConnection.has(name)) continue;
    result[name] = value;
  }
  return result;
}

export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  clientAddress: string,
): OutgoingHttpHeaders {
  const result = withoutHopByHop(headers);
  const priorHops = headers["x-forwarded-for"];
  result["x-forwarded-for"] = priorHops ? `${priorHops}, ${clientAddress}` : clientAddress;
  // A front proxy that terminated TLS knows better than this plain-HTTP hop.
  result["x-forwarded-proto"] = headers["x-forwarded-proto"] ?? "http";
  // Transfer-Encoding is hop-by-hop, but keeping it makes node frame the streamed body the same
  // way upstream (chunked) instead of guessing from the method.
  const transferEncoding = headers["transfer-encoding"];
  if (transferEncoding !== undefined) result["transfer-encoding"] = transferEncoding;
  return result;
}

export function downstreamResponseHeaders(
  headers: IncomingHttpHeaders,
  instanceId: string,
): OutgoingHttpHeaders {
  const result = withoutHopByHop(headers);
  result["x-waybill-instance"] = instanceId;
  return result;
}
