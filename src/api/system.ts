/** The control plane itself: is it up, who am I, stop it, and this API's own description. */
import { z } from "zod";
import { defineRoute, roles } from "./contract.js";

export const health = defineRoute({
  method: "GET",
  path: "/v1/health",
  role: "viewer",
  tag: "system",
  summary: "The control plane answers",
  response: { status: 200, schema: z.object({ ok: z.literal(true), pid: z.number().int() }) },
});

export const whoami = defineRoute({
  method: "GET",
  path: "/v1/whoami",
  role: "viewer",
  tag: "system",
  summary: "The name and role of the token presented",
  response: { status: 200, schema: z.object({ name: z.string(), role: z.enum(roles) }) },
});

export const shutdown = defineRoute({
  method: "POST",
  path: "/v1/shutdown",
  role: "admin",
  tag: "system",
  summary: "Stop the control plane, and the stages' apps unless `stopApps` is false",
  body: z.strictObject({ stopApps: z.boolean().default(true) }).optional(),
  response: { status: 202, schema: z.object({ stopping: z.literal(true) }) },
});

export const openApiDocument = defineRoute({
  method: "GET",
  path: "/openapi.json",
  role: "viewer",
  public: true,
  tag: "system",
  summary: "This API described as OpenAPI 3.1, generated from the same schemas the server validates with",
  response: {
    status: 200,
    // A document of its own standard: only what a client looks for first is named here.
    schema: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }),
  },
});

export const apiIndex = defineRoute({
  method: "GET",
  path: "/",
  role: "viewer",
  public: true,
  tag: "system",
  summary:
    "Where to start: the dashboard's page for a client that asks for HTML, else the API's description and its version",
  response: {
    status: 200,
    schema: z.object({ name: z.literal("waybill"), version: z.string(), openapi: z.string() }),
  },
});

export const dashboardAsset = defineRoute({
  method: "GET",
  path: "/ui/:file",
  role: "viewer",
  public: true,
  tag: "system",
  summary: "A script or style sheet of the dashboard, named by its content's hash (cached as immutable)",
  params: z.strictObject({ file: z.string().regex(/^[A-Za-z0-9_-]+\.(js|css)$/) }),
  response: {
    status: 200,
    contentType: "text/javascript",
    description: "The file (text/javascript or text/css)",
  },
});

export const systemRoutes = [health, whoami, shutdown, openApiDocument, apiIndex, dashboardAsset];
