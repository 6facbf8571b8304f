import type { FastifyInstance } from "fastify";
import { createToken, listTokens, revokeToken, type TokenView } from "../../api/tokens.js";
import { roles } from "../../api/contract.js";
import { ConflictError, NotFoundError } from "../../errors.js";
import type { TokenRecord, TokenStore } from "../../store/token-store.js";
import { mintToken } from "../auth.js";
import { registerRoute } from "../route.js";

export interface TokenRouteDependencies {
  tokenStore: TokenStore;
  now?: () => Date;
}

function viewOf(record: TokenRecord): TokenView {
  const role = roles.find((known) => known === record.role);
  if (role === undefined) throw new Error(`token ${record.id} has an unknown role`);
  return { ...record, role };
}

export function registerTokenRoutes(app: FastifyInstance, deps: TokenRouteDependencies): void {
  const now = deps.now ?? (() => new Date());

  registerRoute(app, listTokens, async () => ({ tokens: (await deps.tokenStore.list()).map(viewOf) }));

  registerRoute(app, createToken, async ({ body, request }) => {
    const { token, stored } = mintToken(body.name, body.role, request.principal?.name ?? "unknown", now());
    if (!(await deps.tokenStore.add(stored))) {
      throw new ConflictError(
        `a token named "${body.name}" exists; revoke it first (waybill tokens revoke ${body.name})`,
      );
    }
    const { secretSha256: _hash, ...record } = stored;
    return { ...viewOf(record), token };
  });

  registerRoute(app, revokeToken, async ({ params, request }) => {
    const revoked = await deps.tokenStore.revoke(
      params.token,
      request.principal?.name ?? "unknown",
      now().toISOString(),
    );
    if (revoked === undefined) throw new NotFoundError(`no live token has the id or name "${params.token}"`);
    return viewOf(revoked);
  });
}
