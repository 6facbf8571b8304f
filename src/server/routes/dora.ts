import type { FastifyInstance } from "fastify";
import { getDora } from "../../api/dora.js";
import { readDora } from "../../metrics/dora-query.js";
import type { Store } from "../../store/store.js";
import { registerRoute } from "../route.js";

export interface DoraRouteDependencies {
  store: Pick<Store, "metricsRows" | "listServices" | "getService">;
}

export function registerDoraRoutes(app: FastifyInstance, deps: DoraRouteDependencies): void {
  registerRoute(app, getDora, async ({ query }) =>
    readDora(deps.store, {
      since: query.since,
      bucket: query.bucket,
      ...(query.service === undefined ? {} : { service: query.service }),
    }),
  );
}
