/**
 * The API's authorization, proved route by route: no token and a wrong token get 401, every role
 * below the route's own gets 403, and its own role and those above get through. Every route test
 * uses it, over the same tokens.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { roles, type Role } from "../api/contract.js";
import { adminToken } from "../server/auth.js";

/** A token per role: the state's admin token, and a tokens.json with the other three */
export function tokensForEveryRole(stateDir: string): Record<Role, string> {
  const tokens: Record<Role, string> = {
    viewer: "viewer-token-0123456789",
    developer: "developer-token-0123456789",
    approver: "approver-token-0123456789",
    admin: adminToken(stateDir),
  };
  const others = (["viewer", "developer", "approver"] as const).map((role) => ({
    name: role,
    role,
    token: tokens[role],
  }));
  writeFileSync(join(stateDir, "tokens.json"), JSON.stringify(others), { mode: 0o600 });
  return tokens;
}

/** A path of the route with every parameter filled in */
export function concretePath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, "x");
}

export async function checkRoleMatrix(
  app: FastifyInstance,
  routes: readonly { method: string; url: string; role: Role; public?: boolean }[],
  tokens: Record<Role, string>,
): Promise<void> {
  for (const route of routes.filter((candidate) => candidate.public !== true)) {
    const what = `${route.method} ${route.url}`;
    const send = (authorization?: string) =>
      app.inject({
        method: route.method as "GET",
        url: concretePath(route.url),
        headers: authorization === undefined ? {} : { authorization },
      });
    const anonymous = await send();
    assert.equal(anonymous.statusCode, 401, `${what} without a token`);
    assert.match(String(anonymous.headers["www-authenticate"]), /Bearer/, what);
    assert.equal((await send(`Bearer ${"0".repeat(40)}`)).statusCode, 401, `${what} with a wrong token`);
    for (const role of roles) {
      const status = (await send(`Bearer ${tokens[role]}`)).statusCode;
      if (roles.indexOf(role) >= roles.indexOf(route.role)) {
        assert.ok(status !== 401 && status !== 403, `${role} on ${what} got ${status}`);
      } else assert.equal(status, 403, `${role} on ${what}`);
    }
  }
}
