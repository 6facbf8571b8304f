/**
 * The dashboard's sessions: a random id in an HttpOnly cookie stands for the token the user
 * pasted once. They are kept in this process's memory: a restart of the control plane (or
 * another replica behind the same address) logs the browser out, and the user pastes the token
 * again; nothing else is lost. The token itself is kept, not the principal it named, so every
 * request re-authenticates it: a revoked token ends its sessions at once.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SESSION_COOKIE } from "../api/session.js";
import type { Principal } from "./auth.js";

export interface TokenAuthenticator {
  authenticate(authorizationHeader: string | undefined): Promise<Principal | undefined>;
}

export interface Session {
  principal: Principal;
  csrf: string;
}

interface Entry {
  token: string;
  csrf: string;
  lastUsed: number;
}

export interface SessionOptions {
  /** A session unused this long is forgotten */
  idleMs: number;
  /** At most this many at once; the least recently used goes first */
  maxSessions: number;
  now(): number;
}

const defaults: SessionOptions = { idleMs: 8 * 3_600_000, maxSessions: 10_000, now: Date.now };

export class Sessions {
  private readonly entries = new Map<string, Entry>();
  private readonly options: SessionOptions;

  constructor(
    private readonly tokens: TokenAuthenticator,
    options: Partial<SessionOptions> = {},
  ) {
    this.options = { ...defaults, ...options };
  }

  /** A new session for a valid token: its id (for the cookie) and CSRF token; undefined for a wrong token */
  async open(token: string): Promise<(Session & { id: string }) | undefined> {
    const principal = await this.tokens.authenticate(`Bearer ${token}`);
    if (principal === undefined) return undefined;
    const id = randomBytes(32).toString("base64url");
    const csrf = randomBytes(32).toString("base64url");
    this.evict();
    this.entries.set(keyOf(id), { token, csrf, lastUsed: this.options.now() });
    return { id, csrf, principal };
  }

  /** The session a cookie's id names, while its token is still valid */
  async find(id: string): Promise<Session | undefined> {
    const key = keyOf(id);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.options.now();
    if (now - entry.lastUsed > this.options.idleMs) {
      this.entries.delete(key);
      return undefined;
    }
    const principal = await this.tokens.authenticate(`Bearer ${entry.token}`);
    if (principal === undefined) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-inserted, so the map's order stays least recently used first.
    this.entries.delete(key);
    this.entries.set(key, { ...entry, lastUsed: now });
    return { principal, csrf: entry.csrf };
  }

  close(id: string): void {
    this.entries.delete(keyOf(id));
  }

  private evict(): void {
    const now = this.options.now();
    for (const [key, entry] of this.entries) {
      if (now - entry.lastUsed > this.options.idleMs || this.entries.size >= this.options.maxSessions) {
        this.entries.delete(key);
      } else break;
    }
  }
}

/** The map is keyed by a hash of the id, so the ids themselves are nowhere but in the cookies. */
function keyOf(id: string): string {
  return createHash("sha256").update(id).digest("base64url");
}

/** Whether the CSRF token presented is the session's own */
export function csrfMatches(session: Session, presented: string | string[] | undefined): boolean {
  if (typeof presented !== "string") return false;
  const expected = Buffer.from(session.csrf);
  const given = Buffer.from(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The session id in a Cookie header, if there is one */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) {
      const id = value.join("=");
      return /^[A-Za-z0-9_-]{43}$/.test(id) ? id : undefined;
    }
  }
  return undefined;
}

/**
 * The Set-Cookie value for a session, or (id undefined) one that clears it. A browser session's
 * cookie: it has no Max-Age, and the server forgets a session left idle.
 */
export function sessionCookie(id: string | undefined, options: { secure: boolean }): string {
  const attributes = ["HttpOnly", "SameSite=Strict", "Path=/", ...(options.secure ? ["Secure"] : [])];
  return id === undefined
    ? [`${SESSION_COOKIE}=`, "Max-Age=0", ...attributes].join("; ")
    : [`${SESSION_COOKIE}=${id}`, ...attributes].join("; ");
}
