/** The `test.load` block of waybill.yaml as generator options. */
import type { LoadSpec } from "../spec/schema.js";
import { parseDuration } from "../spec/units.js";
import type { LoadOptions } from "./types.js";

/** `target` is the deployed build's base URL, http://host:port */
export function loadOptionsFromSpec(load: LoadSpec, target: string): LoadOptions {
  return {
    target,
    model: load.model,
    rate: load.rate,
    durationMs: parseDuration(load.duration),
    warmupMs: parseDuration(load.warmup),
    connections: load.connections,
    workers: load.workers,
    maxRequests: load.maxRequests,
    timeoutMs: parseDuration(load.timeout),
    requests: load.requests.map((request) => ({
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.body,
      weight: request.weight,
    })),
  };
}
