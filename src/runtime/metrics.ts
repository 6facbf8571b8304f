/**
 * The proxies' request series in the Prometheus text exposition format (0.0.4), served on a
 * listener of its own: the stage ports belong to the apps, which may serve their own /metrics.
 */
import { type Server, createServer } from "node:http";
import { LOOPBACK, listenOn } from "./ports.js";
import { DURATION_BUCKETS_SECONDS, type InstanceMetrics, STATUS_CLASSES } from "./traffic.js";
import type { StageKey } from "./types.js";

export const METRICS_PATH = "/metrics";

export interface StageInstanceMetrics extends StageKey {
  metrics: InstanceMetrics;
}

/** Prometheus label values: backslash, double quote and newline escaped. */
function labelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelSet(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${labelValue(value)}"`);
  return `{${pairs.join(",")}}`;
}

export function renderProxyMetrics(series: readonly StageInstanceMetrics[]): string {
  const requests = [
    "# HELP waybill_proxy_requests_total Requests the stage proxy finished, by status class (error: no complete answer).",
    "# TYPE waybill_proxy_requests_total counter",
  ];
  const durations = [
    "# HELP waybill_proxy_request_duration_seconds Time from the proxy having the request's head to the end of the response.",
    "# TYPE waybill_proxy_request_duration_seconds histogram",
  ];
  const inFlight = [
    "# HELP waybill_proxy_in_flight_requests Requests the stage proxy is forwarding now.",
    "# TYPE waybill_proxy_in_flight_requests gauge",
  ];
  for (const { service, stage, metrics } of series) {
    const identity = { service, stage, version: metrics.version, instance: metrics.instanceId };
    for (const statusClass of STATUS_CLASSES) {
      const labels = labelSet({ ...identity, code: statusClass });
      requests.push(`waybill_proxy_requests_total${labels} ${metrics.requestsByClass[statusClass]}`);
    }
    const { bucketCounts, count, sumSeconds } = metrics.duration;
    DURATION_BUCKETS_SECONDS.forEach((bound, index) => {
      const labels = labelSet({ ...identity, le: String(bound) });
      durations.push(`waybill_proxy_request_duration_seconds_bucket${labels} ${bucketCounts[index] ?? 0}`);
    });
    durations.push(
      `waybill_proxy_request_duration_seconds_bucket${labelSet({ ...identity, le: "+Inf" })} ${count}`,
    );
    durations.push(`waybill_proxy_request_duration_seconds_sum${labelSet(identity)} ${sumSeconds}`);
    durations.push(`waybill_proxy_request_duration_seconds_count${labelSet(identity)} ${count}`);
    inFlight.push(`waybill_proxy_in_flight_requests${labelSet(identity)} ${metrics.inFlight}`);
  }
  return `${[...requests, ...durations, ...inFlight].join("\n")}\n`;
}

/** Serves GET /metrics on 127.0.0.1 with whatever `collect` returns at that moment. */
export class MetricsEndpoint {
  private readonly server: Server;
  private listeningPort: number | null = null;

  constructor(collect: () => StageInstanceMetrics[]) {
    this.server = createServer((request, response) => {
      const path = (request.url ?? "/").split("?")[0];
      if (path !== METRICS_PATH || (request.method !== "GET" && request.method !== "HEAD")) {
        response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        response.end(`only GET ${METRICS_PATH} is served here\n`);
        return;
      }
      const body = Buffer.from(renderProxyMetrics(collect()));
      response.writeHead(200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
        "content-length": body.length,
      });
      response.end(request.method === "HEAD" ? undefined : body);
    });
  }

  /** Port 0 picks a free one. */
  async listen(port: number): Promise<void> {
    await listenOn(this.server, port);
    const address = this.server.address();
    this.listeningPort = address !== null && typeof address === "object" ? address.port : port;
  }

  url(): string | undefined {
    return this.listeningPort === null
      ? undefined
      : `http://${LOOPBACK}:${this.listeningPort}${METRICS_PATH}`;
  }

  async close(): Promise<void> {
    if (this.listeningPort === null) return;
    this.listeningPort = null;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
