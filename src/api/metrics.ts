/** The control plane's health for Prometheus, read from the database at each scrape. */
import { defineRoute } from "./contract.js";

export const scrapeMetrics = defineRoute({
  method: "GET",
  path: "/metrics",
  role: "viewer",
  tag: "metrics",
  summary:
    "Runs, gates, approvals, the task queue and DORA's four keys per service and stage, as Prometheus text " +
    "(scrape with a viewer token in `authorization`)",
  response: {
    status: 200,
    contentType: "text/plain; version=0.0.4",
    description: "the Prometheus text exposition format 0.0.4",
  },
});

export const metricsRoutes = [scrapeMetrics] as const;
