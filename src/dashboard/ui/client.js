/* global URLSearchParams, fetch -- the browser's (the lint's globals are Node's) */
/**
 * The page's one way to the API: a contract from `src/api` names the method and path, and its
 * answer is parsed through the contract's schema, as the CLI's client does. With the session
 * cookie, a request that changes something carries the session's CSRF token.
 */
import { pathFor } from "../../api/contract.js";
import { CSRF_HEADER } from "../../api/session.js";

/** @type {string | null} */
let csrfToken = null;
/** @type {() => void} */
let unauthorized = () => undefined;

/** @param {string | null} token */
export function useCsrfToken(token) {
  csrfToken = token;
}

/**
 * What to do when the session has gone (expired, logged out elsewhere, token revoked)
 * @param {() => void} handler
 */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/**
 * @template P, Q, B, R
 * @param {import("../../api/contract.js").RouteContract<P, Q, B, R>} contract
 * @param {{ params?: Record<string, string>, query?: Record<string, string>, body?: B }} [input]
 * @returns {Promise<R>}
 */
export async function call(contract, input = {}) {
  const query = input.query === undefined ? "" : `?${new URLSearchParams(input.query).toString()}`;
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (input.body !== undefined) headers["content-type"] = "application/json";
  if (contract.method !== "GET" && csrfToken !== null) headers[CSRF_HEADER] = csrfToken;
  const response = await fetch(pathFor(contract.path, input.params) + query, {
    method: contract.method,
    headers,
    credentials: "same-origin",
    ...(input.body === undefined ? {} : { body: JSON.stringify(input.body) }),
  });
  const text = await response.text();
  if (!response.ok) {
    if (response.status === 401 && contract.public !== true) unauthorized();
    throw new ApiError(response.status, problemDetail(text) ?? `${response.status} ${response.statusText}`);
  }
  if (!("schema" in contract.response)) throw new Error(`${contract.path} does not answer JSON`);
  return contract.response.schema.parse(JSON.parse(text));
}

/** @param {string} text */
function problemDetail(text) {
  try {
    const body = JSON.parse(text);
    return typeof body?.detail === "string" ? /** @type {string} */ (body.detail) : undefined;
  } catch {
    return undefined;
  }
}

/** @param {unknown} error */
export function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}
