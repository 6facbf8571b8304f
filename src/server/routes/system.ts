import type { FastifyInstance } from "fastify";
import { apiIndex, health, openApiDocument, shutdown, whoami } from "../../api/system.js";
import { registerRoute } from "../route.js";

export interface SystemRouteDependencies {
  /** The OpenAPI document of every route, built once */
  openApi: Record<string, unknown>;
  version: string;
  shutdown(stopApps: boolean): void;
}

export function registerSystemRoutes(app: FastifyInstance, deps: SystemRouteDependencies): void {
  registerRoute(app, health, async () => ({ ok: true as const, pid: process.pid }));
  registerRoute(app, whoami, async ({ request }) => ({
    name: request.principal?.name ?? "unknown",
    role: request.principal?.role ?? "viewer",
  }));
  registerRoute(app, openApiDocument, async ({ reply }) => reply.send(deps.openApi));
  registerRoute(app, apiIndex, async () => ({
    name: "waybill" as const,
    version: deps.version,
    openapi: "/openapi.json",
  }));
  registerRoute(app, shutdown, async ({ body, reply }) => {
    await reply.code(202).send({ stopping: true });
    deps.shutdown(body?.stopApps ?? true);
    return reply;
  });
}
