/**
 * Bearer tokens, each with one role. The token in `<state>/token` is the admin token the
 * local CLI uses; `<state>/tokens.json` may list more: `[{"name","role","token"}]`.
 * Roles are ordered: each one may do what the roles before it may.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export const roles = ["viewer", "developer", "approver", "admin"] as const;
export type Role = (typeof roles)[number];

const tokensFileSchema = z.array(
  z.strictObject({ name: z.string().min(1), role: z.enum(roles), token: z.string().min(16) }),
);

export interface Principal {
  name: string;
  role: Role;
}

export class TokenRegistry {
  private constructor(private readonly entries: { principal: Principal; token: Buffer }[]) {}

  static load(stateDir: string): TokenRegistry {
    const entries = [
      { principal: { name: "admin", role: "admin" as Role }, token: Buffer.from(adminToken(stateDir)) },
    ];
    const extra = join(stateDir, "tokens.json");
    if (existsSync(extra)) {
      for (const entry of tokensFileSchema.parse(JSON.parse(readFileSync(extra, "utf8")))) {
        entries.push({ principal: { name: entry.name, role: entry.role }, token: Buffer.from(entry.token) });
      }
    }
    return new TokenRegistry(entries);
  }

  authenticate(header: string | undefined): Principal | undefined {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!match?.[1]) return undefined;
    const presented = Buffer.from(match[1]);
    return this.entries.find(
      (entry) => entry.token.length === presented.length && timingSafeEqual(entry.token, presented),
    )?.principal;
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
