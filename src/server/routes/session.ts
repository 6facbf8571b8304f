import type { FastifyInstance, FastifyRequest } from "fastify";
import { createSession, deleteSession, getSession } from "../../api/session.js";
import { UserError } from "../../errors.js";
import { registerRoute } from "../route.js";
import { sessionCookie, type Sessions } from "../sessions.js";

export interface SessionRouteDependencies {
  sessions: Sessions;
}

export function registerSessionRoutes(app: FastifyInstance, deps: SessionRouteDependencies): void {
  const secure = (request: FastifyRequest) => request.protocol === "https";

  registerRoute(app, createSession, async ({ body, request, reply }) => {
    const session = await deps.sessions.open(body.token);
    if (session === undefined) {
      throw new UserError("the token was not accepted: paste a token of this control plane", 2, 401);
    }
    // Replaces the session this browser had: one login, one session.
    if (request.session !== undefined) await deps.sessions.close(request.session.id);
    reply.header("set-cookie", sessionCookie(session.id, { secure: secure(request) }));
    reply.header("cache-control", "no-store");
    return { name: session.principal.name, role: session.principal.role, csrf: session.csrf };
  });

  registerRoute(app, getSession, async ({ request, reply }) => {
    reply.header("cache-control", "no-store");
    return {
      name: request.principal?.name ?? "unknown",
      role: request.principal?.role ?? "viewer",
      csrf: request.session?.csrf ?? null,
    };
  });

  registerRoute(app, deleteSession, async ({ request, reply }) => {
    if (request.session !== undefined) await deps.sessions.close(request.session.id);
    reply.header("set-cookie", sessionCookie(undefined, { secure: secure(request) }));
    return { loggedOut: true as const };
  });
}
