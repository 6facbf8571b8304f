/**
 * Bearer tokens, each with one role. The token in `<state>/token` is the admin token the
 * local CLI uses; `<state>/tokens.json` may list more: `[{"name","role","token"}]`; and
 * `waybill tokens create` makes tokens kept in the database (`src/store/token-store.ts`) as a
 * SHA-256 of their secret, which every replica on that database knows at once.
 * Roles are ordered: each one may do what the roles before it may.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";

import { roles, type Role } from "../api/contract.js";
import type { TokenReference } from "../store/session-store.js";
import type { StoredToken, TokenStore } from "../store/token-store.js";

export { roles, type Role };

const tokensFileSchema = z.array(
  z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, {
      message: "a name is letters, digits and . _ @ -, at most 64 characters",
    }),
    role: z.enum(roles),
    token: z.string().regex(/^[\x21-\x7e]{16,512}$/, {
      message: "a token is 16 to 512 printable characters without spaces",
    }),
  }),
);

export interface Principal {
  name: string;
  role: Role;
}

/** `wb_<id>_<secret>`: the id finds the stored hash, the secret is what only the holder has */
const MINTED_TOKEN = /^wb_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

function sha256(text: string | Buffer): Buffer {
  return createHash("sha256").update(text).digest();
}

/** A new token for `waybill tokens create`: the token to hand over once, and what is stored */
export function mintToken(
  name: string,
  role: Role,
  createdBy: string,
  now: Date,
): { token: string; stored: StoredToken } {
  const id = randomBytes(6).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return {
    token: `wb_${id}_${secret}`,
    stored: {
      id,
      name,
      role,
      secretSha256: sha256(secret).toString("hex"),
      createdAt: now.toISOString(),
      createdBy,
      revokedAt: null,
      revokedBy: null,
    },
  };
}

export class TokenRegistry {
  private constructor(
    private readonly entries: { principal: Principal; token: Buffer }[],
    private readonly minted: Pick<TokenStore, "byId"> | undefined,
  ) {}

  static load(stateDir: string, minted?: Pick<TokenStore, "byId">): TokenRegistry {
    const entries = [
      { principal: { name: "admin", role: "admin" as Role }, token: Buffer.from(adminToken(stateDir)) },
    ];
    const extra = join(stateDir, "tokens.json");
    if (existsSync(extra)) {
      for (const entry of readTokensFile(extra)) {
        if (entries.some((known) => known.principal.name === entry.name)) {
          throw new UserError(
            `${extra}: the name "${entry.name}" is given twice; each token needs a name of its own`,
          );
        }
        if (entries.some((known) => known.token.equals(Buffer.from(entry.token)))) {
          throw new UserError(
            `${extra}: the token of "${entry.name}" is also another's; give each one its own`,
          );
        }
        entries.push({ principal: { name: entry.name, role: entry.role }, token: Buffer.from(entry.token) });
      }
    }
    return new TokenRegistry(entries, minted);
  }

  async authenticate(header: string | undefined): Promise<Principal | undefined> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!match?.[1]) return undefined;
    const minted = MINTED_TOKEN.exec(match[1]);
    if (minted !== null && this.minted !== undefined)
      return this.mintedPrincipal(minted[1] ?? "", minted[2] ?? "");
    const presented = Buffer.from(match[1]);
    return this.entries.find(
      (entry) => entry.token.length === presented.length && timingSafeEqual(entry.token, presented),
    )?.principal;
  }

  /**
   * Who presents `token`, with a reference to it that is no secret, for a session to stand for
   * it: a minted token's id, or the SHA-256 of a token of the state folder.
   */
  async identify(token: string): Promise<{ principal: Principal; ref: TokenReference } | undefined> {
    if (!/^\S+$/.test(token)) return undefined;
    const minted = MINTED_TOKEN.exec(token);
    if (minted !== null && this.minted !== undefined) {
      const principal = await this.mintedPrincipal(minted[1] ?? "", minted[2] ?? "");
      return principal && { principal, ref: { tokenId: minted[1] ?? "" } };
    }
    const principal = await this.authenticate(`Bearer ${token}`);
    return principal && { principal, ref: { tokenSha256: sha256(token).toString("hex") } };
  }

  /** The principal of the state folder's token with this SHA-256 (hex), while it is still there */
  stateTokenPrincipal(sha256Hex: string): Principal | undefined {
    const presented = Buffer.from(sha256Hex, "hex");
    return this.entries.find((entry) => {
      const hash = sha256(entry.token);
      return hash.length === presented.length && timingSafeEqual(hash, presented);
    })?.principal;
  }

  private async mintedPrincipal(id: string, secret: string): Promise<Principal | undefined> {
    const stored = await this.minted?.byId(id);
    if (stored === undefined || stored.revokedAt !== null) return undefined;
    const expected = Buffer.from(stored.secretSha256, "hex");
    const presented = sha256(secret);
    if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) return undefined;
    const role = roles.find((known) => known === stored.role);
    return role === undefined ? undefined : { name: stored.name, role };
  }
}

export function allows(role: Role, required: Role): boolean {
  return roles.indexOf(role) >= roles.indexOf(required);
}

/** Reads the admin token, creating it (mode 0600) on first use. */
export function adminToken(stateDir: string): string {
  const file = join(stateDir, "token");
  if (!existsSync(file)) {
    try {
      writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  return readFileSync(file, "utf8").trim();
}

/**
 * The tokens file holds secrets: one others may read hands out their roles, so it is refused
 * until only its owner can read it. Every mistake in it names the file and where.
 */
function readTokensFile(file: string): z.infer<typeof tokensFileSchema> {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new UserError(
      `${file} is open to other users (mode ${mode.toString(8).padStart(4, "0")}), and it holds tokens: ` +
        `anyone who reads it gets their roles. Make it readable by its owner only (chmod 600 ${file}) and start again.`,
    );
  }
  const text = readFileSync(file, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const where = jsonErrorPosition((error as Error).message);
    throw new UserError(
      `${file}${where}: not valid JSON (${(error as Error).message}). It is a list such as ` +
        `[{"name": "ci", "role": "developer", "token": "<at least 16 characters>"}].`,
    );
  }
  const result = tokensFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const [index, field] = issue?.path ?? [];
    const entry = typeof index === "number" ? `entry ${index + 1}` : "the file";
    throw new UserError(
      `${file}: ${entry}${field === undefined ? "" : `, ${String(field)}`}: ${issue?.message ?? "invalid"}. ` +
        `Each entry is {"name", "role" (${roles.join(", ")}), "token"}.`,
    );
  }
  return result.data;
}

/** ":line:col" of a JSON syntax error, where the runtime tells (Node 22 names them; Node 20 quotes the spot). */
function jsonErrorPosition(message: string): string {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  return lineColumn ? `:${lineColumn[1]}:${lineColumn[2]}` : "";
}
