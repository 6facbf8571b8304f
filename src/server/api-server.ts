/**
 * The API's HTTP shell, apart from its routes: every route names the least role that may call it
 * (from its contract); a missing or wrong token gets 401, too small a role 403, and every refusal
 * is one RFC 9457 problem. Route modules (`routes/<resource>.ts`) are registered on the instance
 * this returns; `routes` lists each with its role, so tests can prove each is guarded.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { UserError, errorMessage } from "../errors.js";
import { PROBLEM_CONTENT_TYPE, kindOfStatus, problem, type Problem } from "../api/problem.js";
import type { Role } from "../api/contract.js";
import { SpecError } from "../spec/load.js";
import { PolicyForbiddenError } from "../engine/policies.js";
import { allows, type Principal } from "./auth.js";
import { CSRF_HEADER } from "../api/session.js";
import { csrfMatches, sessionIdOf, type Sessions } from "./sessions.js";

declare module "fastify" {
  interface FastifyContextConfig {
    role?: Role;
    /** Answered without a token: the OpenAPI document, the dashboard's pages */
    public?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** The dashboard's session, when the request came with its cookie rather than a bearer token */
    session?: { id: string; csrf: string };
  }
}

export interface Authenticator {
  authenticate(authorizationHeader: string | undefined): Promise<Principal | undefined>;
}

export interface RouteInfo {
  method: string;
  url: string;
  role: Role;
  public: boolean;
}

export const BODY_LIMIT_BYTES = 1_048_576;
const DRAIN_LIMIT_BYTES = 64 * 1_048_576;
const DRAIN_TIMEOUT_MS = 10_000;

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** Requests that change something: with the session cookie, they must carry its CSRF token */
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function createApiServer(
  tokens: Authenticator,
  sessions?: Sessions,
): { app: FastifyInstance; routes: RouteInfo[] } {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
  const routes: RouteInfo[] = [];
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method !== "HEAD") {
        routes.push({
          method,
          url: route.url,
          role: route.config?.role ?? "admin",
          public: route.config?.public === true,
        });
      }
    }
  });

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const config = request.routeOptions.config;
    // A bearer token, when there is one, decides alone; the cookie is the dashboard's.
    const sessionId =
      request.headers.authorization === undefined ? sessionIdOf(request.headers.cookie) : undefined;
    const session = sessionId === undefined ? undefined : await sessions?.find(sessionId);
    const principal = session?.principal ?? (await tokens.authenticate(request.headers.authorization));
    if (session !== undefined && sessionId !== undefined)
      request.session = { id: sessionId, csrf: session.csrf };
    if (config.public === true) {
      if (principal !== undefined) request.principal = principal;
      return;
    }
    if (principal === undefined) {
      return sendProblem(
        reply.header("www-authenticate", 'Bearer realm="waybill"'),
        problem("unauthorized", "a valid bearer token is required (see <state>/token, or waybill login)"),
      );
    }
    if (
      session !== undefined &&
      STATE_CHANGING.has(request.method) &&
      !csrfMatches(session, request.headers[CSRF_HEADER])
    ) {
      return sendProblem(
        reply,
        problem(
          "forbidden",
          `a ${request.method} made with the session cookie must carry the session's CSRF token in the ${CSRF_HEADER} header (GET /v1/session gives it)`,
        ),
      );
    }
    const required = config.role ?? "admin";
    if (!allows(principal.role, required)) {
      return sendProblem(
        reply,
        problem("forbidden", `this needs the ${required} role; your token has ${principal.role}`),
      );
    }
    request.principal = principal;
  });

  app.setErrorHandler(async (error, request, reply) => {
    if ((error as { code?: string }).code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      await drainBody(request.raw);
      return sendProblem(
        reply,
        problem(
          "too-large",
          `the request body is larger than the API takes (${BODY_LIMIT_BYTES / 1_048_576} MiB)`,
        ),
      );
    }
    if (error instanceof PolicyForbiddenError) {
      return sendProblem(reply, problem("policy-weakened", error.message, { weakened: error.weakenings }));
    }
    if (error instanceof SpecError) {
      return sendProblem(reply, problem("bad-request", error.message, { issues: error.issues }));
    }
    if (error instanceof UserError) {
      return sendProblem(reply, problem(kindOfStatus(error.httpStatus), error.message));
    }
    if (error instanceof z.ZodError) {
      const detail = error.issues
        .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
        .join("; ");
      return sendProblem(reply, problem("bad-request", `bad request: ${detail}`));
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendProblem(reply, { ...problem(kindOfStatus(status), errorMessage(error)), status });
    }
    process.stderr.write(`waybill api: ${errorMessage(error)}\n`);
    return sendProblem(reply, problem("internal", "internal error; see the control plane's log"));
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problem("not-found", `there is no ${request.method} ${request.url.split("?")[0] ?? ""} in this API`),
    ),
  );
  return { app, routes };
}

/**
 * Reads and discards what is left of a refused body, so the client gets to read the 413
 * instead of a reset connection; bounded in bytes and time, past which the connection goes.
 */
function drainBody(body: IncomingMessage): Promise<void> {
  if (body.readableEnded || body.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let drained = 0;
    const done = () => {
      clearTimeout(timer);
      body.off("data", count);
      resolve();
    };
    const count = (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_LIMIT_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    body.on("data", count);
    body.once("end", done);
    body.once("error", done);
    body.once("close", done);
    body.resume();
  });
}
