import type { FastifyInstance } from "fastify";
import { apiIndex, health, openApiDocument, shutdown, whoami } from "../../api/system.js";
import { registerRoute } from "../route.js";
import { sendDashboardPage, type DashboardFiles } from "./dashboard.js";

export interface SystemRouteDependencies {
  /** The OpenAPI document of every route, built once */
  openApi: Record<string, unknown>;
  version: string;
  shutdown(stopApps: boolean): void;
  /** The dashboard's page, sent at `/` to a client that asks for HTML */
  dashboard?: DashboardFiles;
}

export function registerSystemRoutes(app: FastifyInstance, deps: SystemRouteDependencies): void {
  registerRoute(app, health, async () => ({ ok: true as const, pid: process.pid }));
  registerRoute(app, whoami, async ({ request }) => ({
    name: request.principal?.name ?? "unknown",
    role: request.principal?.role ?? "viewer",
  }));
  registerRoute(app, openApiDocument, async ({ reply }) => reply.send(deps.openApi));
  registerRoute(app, apiIndex, async ({ request, reply }) => {
    reply.header("vary", "Accept");
    if (deps.dashboard !== undefined && prefersHtml(request.headers.accept)) {
      return sendDashboardPage(reply, deps.dashboard);
    }
    return { name: "waybill" as const, version: deps.version, openapi: "/openapi.json" };
  });
  registerRoute(app, shutdown, async ({ body, reply }) => {
    await reply.code(202).send({ stopping: true });
    deps.shutdown(body?.stopApps ?? true);
    return reply;
  });
}

/**
 * Whether an Accept header asks for HTML over JSON: a browser's does (`text/html,…,*\/*;q=0.8`);
 * the CLI's, curl's (`*\/*`) and none at all get the JSON index.
 */
export function prefersHtml(accept: string | undefined): boolean {
  const quality = new Map<string, number>();
  for (const range of (accept ?? "").split(",")) {
    const [type = "", ...parameters] = range.split(";").map((part) => part.trim().toLowerCase());
    const q = parameters.find((parameter) => parameter.startsWith("q="));
    const value = q === undefined ? 1 : Number(q.slice(2));
    quality.set(type, Number.isFinite(value) ? value : 0);
  }
  const html = quality.get("text/html") ?? 0;
  const json = quality.get("application/json") ?? 0;
  return html > 0 && html >= json;
}
