/** Every route of the API, in the order OpenAPI lists them. */
import { eventRoutes } from "./events.js";
import { webhookRoutes } from "./webhooks.js";
import { metricsRoutes } from "./metrics.js";
import { doraRoutes } from "./dora.js";
import type { RouteContract } from "./contract.js";
import { evidenceRoutes } from "./evidence.js";
import { policyRoutes } from "./policies.js";
import { recallRoutes } from "./recall.js";
import { runRoutes } from "./runs.js";
import { shipRoutes } from "./ships.js";
import { signatureRoutes } from "./signatures.js";
import { stageRoutes } from "./stages.js";
import { statusRoutes } from "./status.js";
import { systemRoutes } from "./system.js";
import { tokenRoutes } from "./tokens.js";
import { sessionRoutes } from "./session.js";
import { streamRoutes } from "./stream.js";

// The contracts' own type parameters differ; the list only needs what every contract shares.
export const apiRoutes: readonly RouteContract[] = [
  ...systemRoutes,
  ...shipRoutes,
  ...statusRoutes,
  ...runRoutes,
  ...streamRoutes,
  ...stageRoutes,
  ...evidenceRoutes,
  ...recallRoutes,
  ...signatureRoutes,
  ...policyRoutes,
  ...tokenRoutes,
  ...sessionRoutes,
  ...eventRoutes,
  ...webhookRoutes,
  ...metricsRoutes,
  ...doraRoutes,
] as unknown as readonly RouteContract[];
