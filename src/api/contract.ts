/**
 * How one route of the API is described, once: its method and path, the least role that may
 * call it, and zod schemas for its parameters, query, body and answer. The server registers and
 * validates every route from these (`src/server/route.ts`), the CLI's client reads answers
 * through them (`src/cli/client.ts`), and `/openapi.json` is generated from them
 * (`openapi.ts`), so the three cannot drift apart.
 */
import type { z } from "zod";

export const roles = ["viewer", "developer", "approver", "admin"] as const;
export type Role = (typeof roles)[number];

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

/** A JSON answer described by a schema, or a body of another media type (logs, bundles, metrics) */
export type ResponseContract<Response> =
  | { status: number; schema: z.ZodType<Response> }
  | { status: number; contentType: string; description: string };

export interface RouteContract<Params = unknown, Query = unknown, Body = unknown, Response = unknown> {
  method: HttpMethod;
  /** In fastify's form, `/v1/runs/:id`; OpenAPI's `{id}` is derived from it */
  path: string;
  role: Role;
  /** One line, for OpenAPI and the route table */
  summary: string;
  /** The resource the route belongs to (an OpenAPI tag) */
  tag: string;
  params?: z.ZodType<Params>;
  query?: z.ZodType<Query>;
  body?: z.ZodType<Body>;
  /** A body that is not JSON (a CloudEvent in binary mode): the route reads it raw */
  rawBody?: { contentTypes: string[]; description: string };
  response: ResponseContract<Response>;
  /** Routes that do not need a token (the OpenAPI document, the dashboard's login) */
  public?: boolean;
}

/** Declares a route; the type parameters are inferred from the schemas. */
export function defineRoute<Params = undefined, Query = undefined, Body = undefined, Response = unknown>(
  contract: RouteContract<Params, Query, Body, Response>,
): RouteContract<Params, Query, Body, Response> {
  return contract;
}

export type ParamsOf<C> = C extends RouteContract<infer P, unknown, unknown, unknown> ? P : never;
export type QueryOf<C> = C extends RouteContract<unknown, infer Q, unknown, unknown> ? Q : never;
export type BodyOf<C> = C extends RouteContract<unknown, unknown, infer B, unknown> ? B : never;
export type ResponseOf<C> = C extends RouteContract<unknown, unknown, unknown, infer R> ? R : never;

/** `/v1/runs/:id` with `{id: "r1"}` → `/v1/runs/r1`, each value escaped */
export function pathFor(path: string, params: Record<string, string> = {}): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`the path ${path} needs :${name}`);
    return encodeURIComponent(value);
  });
}
