/**
 * The HTTP API: the shell (`api-server.ts`: tokens, roles, problems) with every resource's routes
 * (`routes/<resource>.ts`) registered from their contracts in `src/api/`. A route module only
 * translates between HTTP and a use-case; the use-cases live in `src/engine/` and beside it.
 */
import type { EventIntake } from "../integrations/intake.js";
import type { IntegrationStore } from "../store/integration-store.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerWebhookRoutes } from "./routes/webhooks.js";
import { registerMetricsRoutes } from "./routes/metrics.js";
import { registerDoraRoutes } from "./routes/dora.js";
import type { FastifyInstance } from "fastify";
import { readFileSync } from "node:fs";
import { buildOpenApiDocument } from "../api/openapi.js";
import { apiRoutes } from "../api/routes.js";
import type { Deliveries } from "../engine/deliveries.js";
import type { Engine } from "../engine/engine.js";
import type { StagePolicies } from "../engine/policies.js";
import type { Recall } from "../engine/recall.js";
import type { EvidenceService } from "../evidence/evidence-service.js";
import type { Store } from "../store/store.js";
import { createApiServer, type RouteInfo } from "./api-server.js";
import type { TokenRegistry } from "./auth.js";
import type { TokenStore } from "../store/token-store.js";
import { registerTokenRoutes } from "./routes/tokens.js";
import { registerEvidenceRoutes } from "./routes/evidence.js";
import { registerPolicyRoutes } from "./routes/policies.js";
import { registerRecallRoutes } from "./routes/recall.js";
import { registerRunRoutes } from "./routes/runs.js";
import { registerShipRoutes } from "./routes/ships.js";
import { registerSignatureRoutes } from "./routes/signatures.js";
import { registerStageRoutes } from "./routes/stages.js";
import { registerSystemRoutes } from "./routes/system.js";
import { registerSessionRoutes } from "./routes/session.js";
import { registerStreamRoutes } from "./routes/stream.js";
import { loadDashboardFiles, registerDashboardRoutes } from "./routes/dashboard.js";
import { Sessions } from "./sessions.js";

export type { RouteInfo };

export interface AppDependencies {
  store: Store;
  evidence: EvidenceService;
  recall: Recall;
  engine: Engine;
  deliveries: Deliveries;
  policies: StagePolicies;
  /** Where OSV advisories are read from into the store */
  advisoriesDir: string;
  tokens: TokenRegistry;
  tokenStore: TokenStore;
  intake: EventIntake;
  integrations: IntegrationStore;
  stageUrl(service: string, stage: string): string | undefined;
  readLogs(service: string, stage: string, stream: "stdout" | "stderr", tailBytes: number): Promise<string>;
  shutdown(stopApps: boolean): void;
}

const packageVersion = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Builds the API; `routes` lists every route with its role, so tests can prove each is guarded. */
export async function buildApp(
  deps: AppDependencies,
): Promise<{ app: FastifyInstance; routes: RouteInfo[] }> {
  const sessions = new Sessions(deps.tokens, deps.tokenStore.sessions());
  const { app, routes } = createApiServer(deps.tokens, sessions);
  const dashboard = loadDashboardFiles();
  registerSystemRoutes(app, {
    openApi: buildOpenApiDocument(apiRoutes, packageVersion),
    version: packageVersion,
    shutdown: deps.shutdown,
    dashboard,
  });
  registerDashboardRoutes(app, dashboard);
  registerSessionRoutes(app, { sessions });
  registerStreamRoutes(app, deps);
  registerShipRoutes(app, deps);
  registerRunRoutes(app, deps);
  registerStageRoutes(app, deps);
  registerEvidenceRoutes(app, deps);
  registerRecallRoutes(app, deps);
  registerSignatureRoutes(app, deps);
  registerPolicyRoutes(app, deps);
  registerTokenRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerWebhookRoutes(app, deps);
  registerMetricsRoutes(app, deps);
  registerDoraRoutes(app, deps);
  return { app, routes };
}
