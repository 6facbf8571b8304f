import type { FastifyInstance } from "fastify";
import { scrapeMetrics as scrapeRoute } from "../../api/metrics.js";
import {
  PROMETHEUS_CONTENT_TYPE,
  scrapeMetrics,
  type MetricsDependencies,
} from "../../metrics/prometheus.js";
import { registerRoute } from "../route.js";

export type MetricsRouteDependencies = MetricsDependencies;

export function registerMetricsRoutes(app: FastifyInstance, deps: MetricsRouteDependencies): void {
  registerRoute(app, scrapeRoute, async ({ reply }) =>
    reply.type(PROMETHEUS_CONTENT_TYPE).send(await scrapeMetrics(deps)),
  );
}
