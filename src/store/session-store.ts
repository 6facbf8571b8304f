/**
 * The dashboard's sessions (migration 0016_dashboard_sessions), kept in the shared database so
 * that any replica behind one address knows a browser's session. A row is keyed by a SHA-256 of
 * the cookie's id, so the ids themselves are nowhere but in the cookies, and it names the token
 * it stands for by reference, never by the token itself: a minted token by its id (so revoking
 * it ends its sessions at once), a token of the state folder by its SHA-256.
 *
 * Times are milliseconds since the epoch by the clock of the replica that wrote them: they only
 * measure idleness (hours) and order sessions for eviction, where replicas' clocks disagreeing by
 * seconds changes nothing.
 */
import type { Kysely } from "kysely";
import type { TokenTables } from "./token-store.js";

export interface SessionTables {
  dashboard_sessions: {
    id_sha256: string;
    csrf: string;
    /** The minted token (`api_tokens.id`) the session stands for */
    token_id: string | null;
    /** Else the SHA-256 (hex) of the state folder's token it stands for */
    token_sha256: string | null;
    created_at: number;
    last_used_at: number;
  };
}

/** Which token a session stands for, without the token */
export type TokenReference = { tokenId: string } | { tokenSha256: string };

export interface StoredSession {
  csrf: string;
  ref: TokenReference;
  /** The minted token as it is now, undefined for a token of the state folder */
  minted?: { name: string; role: string; revoked: boolean };
  lastUsedAt: number;
}

export class SessionStore {
  constructor(private readonly db: Kysely<SessionTables & TokenTables>) {}

  /**
   * Records a new session, first forgetting sessions left idle longer than `idleMs` and, beyond
   * `maxSessions`, the least recently used.
   */
  async add(
    session: { idSha256: string; csrf: string; ref: TokenReference; now: number },
    limits: { idleMs: number; maxSessions: number },
  ): Promise<void> {
    await this.db
      .deleteFrom("dashboard_sessions")
      .where("last_used_at", "<", session.now - limits.idleMs)
      .execute();
    const { count } = await this.db
      .selectFrom("dashboard_sessions")
      .select((eb) => eb.fn.countAll<string | number>().as("count"))
      .executeTakeFirstOrThrow();
    const excess = Number(count) - limits.maxSessions + 1;
    if (excess > 0) {
      const oldest = await this.db
        .selectFrom("dashboard_sessions")
        .select("id_sha256")
        .orderBy("last_used_at")
        .orderBy("id_sha256")
        .limit(excess)
        .execute();
      await this.db
        .deleteFrom("dashboard_sessions")
        .where(
          "id_sha256",
          "in",
          oldest.map((row) => row.id_sha256),
        )
        .execute();
    }
    await this.db
      .insertInto("dashboard_sessions")
      .values({
        id_sha256: session.idSha256,
        csrf: session.csrf,
        token_id: "tokenId" in session.ref ? session.ref.tokenId : null,
        token_sha256: "tokenSha256" in session.ref ? session.ref.tokenSha256 : null,
        created_at: session.now,
        last_used_at: session.now,
      })
      .execute();
  }

  /** A session with its minted token's state, read in one query */
  async find(idSha256: string): Promise<StoredSession | undefined> {
    const row = await this.db
      .selectFrom("dashboard_sessions")
      .leftJoin("api_tokens", "api_tokens.id", "dashboard_sessions.token_id")
      .select([
        "dashboard_sessions.csrf",
        "dashboard_sessions.token_id",
        "dashboard_sessions.token_sha256",
        "dashboard_sessions.last_used_at",
        "api_tokens.name",
        "api_tokens.role",
        "api_tokens.revoked_at",
      ])
      .where("dashboard_sessions.id_sha256", "=", idSha256)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const lastUsedAt = Number(row.last_used_at);
    if (row.token_id !== null) {
      return {
        csrf: row.csrf,
        ref: { tokenId: row.token_id },
        // A token row that is gone is as good as revoked.
        minted: {
          name: row.name ?? "",
          role: row.role ?? "",
          revoked: row.name === null || row.revoked_at !== null,
        },
        lastUsedAt,
      };
    }
    return { csrf: row.csrf, ref: { tokenSha256: row.token_sha256 ?? "" }, lastUsedAt };
  }

  async touch(idSha256: string, now: number): Promise<void> {
    await this.db
      .updateTable("dashboard_sessions")
      .set({ last_used_at: now })
      .where("id_sha256", "=", idSha256)
      .execute();
  }

  async remove(idSha256: string): Promise<void> {
    await this.db.deleteFrom("dashboard_sessions").where("id_sha256", "=", idSha256).execute();
  }
}
