/**
 * The dashboard's sessions: a random id in an HttpOnly cookie stands for the token the user
 * pasted once. They are kept in the shared database (`src/store/session-store.ts`), so behind one
 * address any replica knows them, and a restart loses none. A session names its token by
 * reference, never the token itself, and every request re-checks it: a revoked token ends its
 * sessions at once, and so does an admin token replaced in the state folder.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { roles } from "../api/contract.js";
import { SESSION_COOKIE } from "../api/session.js";
import type { SessionStore, TokenReference } from "../store/session-store.js";
import type { Principal } from "./auth.js";

export interface SessionTokens {
  identify(token: string): Promise<{ principal: Principal; ref: TokenReference } | undefined>;
  stateTokenPrincipal(sha256Hex: string): Principal | undefined;
}

export interface Session {
  principal: Principal;
  csrf: string;
}

export interface SessionOptions {
  /** A session unused this long is forgotten */
  idleMs: number;
  /** At most this many at once; the least recently used goes first */
  maxSessions: number;
  /** A session's last use is written at most this often, not on every request */
  touchEveryMs: number;
  now(): number;
}

const defaults: SessionOptions = {
  idleMs: 8 * 3_600_000,
  maxSessions: 10_000,
  touchEveryMs: 60_000,
  now: Date.now,
};

export class Sessions {
  private readonly options: SessionOptions;

  constructor(
    private readonly tokens: SessionTokens,
    private readonly store: SessionStore,
    options: Partial<SessionOptions> = {},
  ) {
    this.options = { ...defaults, ...options };
  }

  /** A new session for a valid token: its id (for the cookie) and CSRF token; undefined for a wrong token */
  async open(token: string): Promise<(Session & { id: string }) | undefined> {
    const identified = await this.tokens.identify(token);
    if (identified === undefined) return undefined;
    const id = randomBytes(32).toString("base64url");
    const csrf = randomBytes(32).toString("base64url");
    await this.store.add(
      { idSha256: keyOf(id), csrf, ref: identified.ref, now: this.options.now() },
      this.options,
    );
    return { id, csrf, principal: identified.principal };
  }

  /** The session a cookie's id names, while it is in use and its token is still valid */
  async find(id: string): Promise<Session | undefined> {
    const key = keyOf(id);
    const stored = await this.store.find(key);
    if (stored === undefined) return undefined;
    const now = this.options.now();
    const principal =
      now - stored.lastUsedAt > this.options.idleMs
        ? undefined
        : stored.minted === undefined
          ? "tokenSha256" in stored.ref
            ? this.tokens.stateTokenPrincipal(stored.ref.tokenSha256)
            : undefined
          : mintedPrincipal(stored.minted);
    if (principal === undefined) {
      await this.store.remove(key);
      return undefined;
    }
    if (now - stored.lastUsedAt >= this.options.touchEveryMs) await this.store.touch(key, now);
    return { principal, csrf: stored.csrf };
  }

  async close(id: string): Promise<void> {
    await this.store.remove(keyOf(id));
  }
}

function mintedPrincipal(minted: { name: string; role: string; revoked: boolean }): Principal | undefined {
  const role = roles.find((known) => known === minted.role);
  return minted.revoked || role === undefined ? undefined : { name: minted.name, role };
}

/** Sessions are keyed by a hash of the id, so the ids themselves are nowhere but in the cookies. */
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
