import type { FastifyInstance } from "fastify";
import { findRecall, getAdvisories, importAdvisories, listDrift, redeployRecall } from "../../api/recall.js";
import type { Recall } from "../../engine/recall.js";
import { publicRun } from "../../engine/run-views.js";
import { importAdvisories as importFrom } from "../../evidence/vulns/import.js";
import type { Store } from "../../store/store.js";
import { registerRoute } from "../route.js";

export interface RecallRouteDependencies {
  store: Store;
  recall: Recall;
  /** Where OSV advisories are read from into the store */
  advisoriesDir: string;
}

export function registerRecallRoutes(app: FastifyInstance, deps: RecallRouteDependencies): void {
  registerRoute(app, findRecall, async ({ query }) => deps.recall.find(query.q));

  registerRoute(app, redeployRecall, async ({ body }) => ({
    runs: (await deps.recall.redeploy(body.q, body.version)).map(publicRun),
  }));

  registerRoute(app, listDrift, async () => ({ drift: await deps.recall.allDrift() }));

  registerRoute(app, getAdvisories, async () => ({
    ...(await deps.store.coverage()),
    source: deps.advisoriesDir,
  }));

  registerRoute(app, importAdvisories, async () => {
    const imported = await importFrom(deps.store, deps.advisoriesDir);
    return { imported, ...(await deps.store.coverage()), source: deps.advisoriesDir };
  });
}
