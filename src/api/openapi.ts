/**
 * The OpenAPI 3.1 document, generated from the route contracts: the same zod schemas the server
 * validates requests with and the CLI reads answers through, so the description cannot drift
 * from what the routes accept. OpenAPI 3.1 takes JSON Schema 2020-12 as it is, which is what zod
 * writes.
 */
import { z } from "zod";
import { PROBLEM_CONTENT_TYPE, problemSchema } from "./problem.js";
import type { RouteContract } from "./contract.js";

type JsonSchema = Record<string, unknown>;

const REFUSALS: Record<string, string> = {
  "400": "The request is malformed: a bad parameter, query or body",
  "401": "No token, or one this control plane does not know",
  "403": "The token's role is too small for this route",
  "404": "What the request names does not exist",
  "409": "The request conflicts with the current state",
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...body } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  }) as JsonSchema;
  return body;
}

/** `/v1/runs/:id` → `/v1/runs/{id}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, "{$1}");
}

function parametersOf(schema: z.ZodType | undefined, location: "path" | "query"): JsonSchema[] {
  if (schema === undefined) return [];
  if (!(schema instanceof z.ZodObject)) throw new Error(`a route's ${location} must be an object schema`);
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => ({
    name,
    in: location,
    required: location === "path" || !field.safeParse(undefined).success,
    schema: jsonSchema(field, "input"),
    ...(field.description === undefined ? {} : { description: field.description }),
  }));
}

function operationOf(route: RouteContract): JsonSchema {
  const refusals: Record<string, JsonSchema> = {};
  for (const [status, description] of Object.entries(REFUSALS)) {
    if (route.public === true && (status === "401" || status === "403")) continue;
    refusals[status] = {
      description,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } },
    };
  }
  const answer = route.response;
  const success =
    "schema" in answer
      ? {
          description: route.summary,
          // The answer on the wire is what the schema reads, so its input side describes it.
          content: { "application/json": { schema: jsonSchema(answer.schema, "input") } },
        }
      : {
          description: answer.description,
          content: { [answer.contentType]: { schema: { type: "string" } } },
        };
  const requestBody =
    route.body !== undefined
      ? {
          required: !route.body.safeParse(undefined).success,
          content: { "application/json": { schema: jsonSchema(route.body, "input") } },
        }
      : route.rawBody !== undefined
        ? {
            required: true,
            description: route.rawBody.description,
            content: Object.fromEntries(route.rawBody.contentTypes.map((type) => [type, { schema: {} }])),
          }
        : undefined;
  return {
    operationId: operationId(route),
    summary: route.summary,
    tags: [route.tag],
    "x-waybill-role": route.public === true ? "none" : route.role,
    ...(route.public === true ? { security: [] } : {}),
    parameters: [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query")],
    ...(requestBody === undefined ? {} : { requestBody }),
    responses: { [String(answer.status)]: success, ...refusals },
  };
}

function operationId(route: RouteContract): string {
  const words = route.path
    .split("/")
    .filter((part) => part !== "" && part !== "v1")
    .map((part) => (part.startsWith(":") ? `by-${part.slice(1)}` : part));
  return [route.method.toLowerCase(), ...words]
    .join("-")
    .replace(/[^A-Za-z0-9]+(.)/g, (_, next: string) => next.toUpperCase());
}

export function buildOpenApiDocument(routes: readonly RouteContract[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operationOf(route);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Waybill control plane",
      version,
      description:
        "Carry a build artifact through its stages: deploy, load, judge, and record signed evidence. " +
        "Every route names the least role that may call it (x-waybill-role: viewer < developer < approver < admin); " +
        "every refusal is an RFC 9457 problem.",
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    tags: [...new Set(routes.map((route) => route.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Problem: jsonSchema(problemSchema, "output") },
    },
  };
}
