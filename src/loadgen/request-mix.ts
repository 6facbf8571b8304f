/**
 * Turns the configured requests into ready-to-write bytes and picks among them by weight.
 * Each request is serialised once, so sending one is a single socket write of a shared Buffer.
 */
import { UserError } from "../errors.js";
import type { LoadRequest, LoadSide } from "./types.js";

export interface PreparedRequest {
  /** "<METHOD> <path>", the key results are reported under */
  endpoint: string;
  /** Index into the run's per-endpoint tallies; requests with the same key share one */
  endpointIndex: number;
  /** Index into the run's sides; 0 when the run has none */
  sideIndex: number;
  isHead: boolean;
  bytes: Buffer;
}

const methodPattern = /^[A-Z]+$/;
const headerNamePattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headersTheGeneratorOwns = new Set(["content-length", "transfer-encoding"]);
const methodsWithBody = new Set(["POST", "PUT", "PATCH"]);

/**
 * One prepared request per configured request and side, side-major within each request: the
 * variant of request r for side s is at r·sides + s. With no sides, one per request.
 */
export function prepareRequests(
  requests: LoadRequest[],
  hostHeader: string,
  sides: readonly LoadSide[] = [],
): PreparedRequest[] {
  if (requests.length === 0) throw new UserError("load test: at least one request is needed");
  const endpointIndexes = new Map<string, number>();
  const variants =
    sides.length === 0
      ? requests.map((request) => ({ request, sideIndex: 0 }))
      : requests.flatMap((request) =>
          sides.map((side, sideIndex) => ({
            request: { ...request, headers: { ...request.headers, ...side.headers } },
            sideIndex,
          })),
        );
  return variants.map(({ request, sideIndex }) => {
    const method = request.method.toUpperCase();
    if (!methodPattern.test(method))
      throw new UserError(`load test: bad HTTP method ${JSON.stringify(method)}`);
    if (!request.path.startsWith("/") || hasCharacterBelow(request.path, 0x21)) {
      throw new UserError(
        `load test: bad path ${JSON.stringify(request.path)}: expected "/" then no spaces or control characters`,
      );
    }
    const endpoint = `${method} ${request.path}`;
    let endpointIndex = endpointIndexes.get(endpoint);
    if (endpointIndex === undefined) {
      endpointIndex = endpointIndexes.size;
      endpointIndexes.set(endpoint, endpointIndex);
    }

    let head = `${method} ${request.path} HTTP/1.1\r\n`;
    const headers = request.headers ?? {};
    const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
    if (!names.has("host")) head += `Host: ${hostHeader}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      if (!headerNamePattern.test(name))
        throw new UserError(`load test: bad header name ${JSON.stringify(name)}`);
      if (headersTheGeneratorOwns.has(name.toLowerCase())) {
        throw new UserError(`load test: header ${name} is set by the load generator from the body`);
      }
      if (hasCharacterBelow(value.replaceAll("\t", " "), 0x20)) {
        throw new UserError(`load test: header ${name} has a control character in its value`);
      }
      head += `${name}: ${value}\r\n`;
    }
    const body = request.body === undefined ? null : Buffer.from(request.body, "utf8");
    if (body !== null || methodsWithBody.has(method)) head += `Content-Length: ${body?.length ?? 0}\r\n`;
    head += "\r\n";
    const headBytes = Buffer.from(head, "latin1");
    return {
      endpoint,
      endpointIndex,
      sideIndex,
      isHead: method === "HEAD",
      bytes: body === null ? headBytes : Buffer.concat([headBytes, body]),
    };
  });
}

/**
 * Control characters, and spaces too when `limit` is 0x21. They would let a path or header
 * value end its line early and smuggle in another header or request.
 */
function hasCharacterBelow(text: string, limit: number): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < limit || code === 0x7f) return true;
  }
  return false;
}

/** mulberry32: tiny, fast and good enough to split a request mix; not for anything secret */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns a function that picks an index with probability proportional to its weight */
export function weightedPicker(weights: number[], random: () => number): () => number {
  for (const weight of weights) {
    if (!(Number.isFinite(weight) && weight > 0)) {
      throw new UserError(`load test: request weights must be positive numbers, got ${weight}`);
    }
  }
  if (weights.length === 1) return () => 0;
  const cumulative: number[] = [];
  let total = 0;
  for (const weight of weights) {
    total += weight;
    cumulative.push(total);
  }
  return () => {
    const point = random() * total;
    const index = cumulative.findIndex((bound) => point < bound);
    // Rounding can leave the point at the very top of the range.
    return index === -1 ? weights.length - 1 : index;
  };
}
