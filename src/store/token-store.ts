/**
 * API tokens made with `waybill tokens create`: kept in the shared database, so every replica
 * knows them, and kept only as a SHA-256 of their secret part, so the database never holds a
 * token anyone could present. A revoked token stays listed, with when and by whom.
 */
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";
import { SessionStore, type SessionTables } from "./session-store.js";

export interface TokenTables {
  api_tokens: {
    id: string;
    name: string;
    role: string;
    secret_sha256: string;
    created_at: string;
    created_by: string;
    revoked_at: string | null;
    revoked_by: string | null;
  };
}

export interface TokenRecord {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

export interface StoredToken extends TokenRecord {
  secretSha256: string;
}

type Row = TokenTables["api_tokens"];

function recordOf(row: Row): StoredToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    secretSha256: row.secret_sha256,
    createdAt: row.created_at,
    createdBy: row.created_by,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

export class TokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The dashboard's sessions, which stand for these tokens, in the same database */
  sessions(): SessionStore {
    return new SessionStore(this.db as unknown as Kysely<SessionTables & TokenTables>);
  }

  /** Adds a token; false when a live token already has that name */
  async add(token: StoredToken): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const clash = await trx
        .selectFrom("api_tokens")
        .select("id")
        .where("name", "=", token.name)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (clash !== undefined) return false;
      await trx
        .insertInto("api_tokens")
        .values({
          id: token.id,
          name: token.name,
          role: token.role,
          secret_sha256: token.secretSha256,
          created_at: token.createdAt,
          created_by: token.createdBy,
          revoked_at: null,
          revoked_by: null,
        })
        .execute();
      return true;
    });
  }

  async byId(id: string): Promise<StoredToken | undefined> {
    const row = await this.db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : recordOf(row);
  }

  /** Oldest first, revoked ones too */
  async list(): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom("api_tokens")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map((row) => {
      const { secretSha256: _secret, ...record } = recordOf(row);
      return record;
    });
  }

  /** Revokes the live token with this id or name; undefined when there is none */
  async revoke(idOrName: string, by: string, at: string): Promise<TokenRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("api_tokens")
        .selectAll()
        .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      await trx
        .updateTable("api_tokens")
        .set({ revoked_at: at, revoked_by: by })
        .where("id", "=", row.id)
        .execute();
      const { secretSha256: _secret, ...record } = recordOf({ ...row, revoked_at: at, revoked_by: by });
      return record;
    });
  }
}
