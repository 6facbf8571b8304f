/**
 * A steady request loop for tests that must prove no request fails while something changes
 * underneath (a blue-green switch). Bounded in time and in requests.
 */
import { Agent, request } from "node:http";

export interface SteadyLoadResult {
  sent: number;
  succeeded: number;
  failures: string[];
  bodies: Map<string, number>;
}

export function steadyLoad(
  url: string,
  options: { ratePerSecond: number; maxDurationMs: number },
): { stop(): Promise<SteadyLoadResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const result: SteadyLoadResult = { sent: 0, succeeded: 0, failures: [], bodies: new Map() };
  const pending = new Set<Promise<void>>();
  const maxRequests = Math.ceil((options.ratePerSecond * options.maxDurationMs) / 1000);
  const started = Date.now();
  let stopped = false;

  function fire(): void {
    result.sent += 1;
    const done = new Promise<void>((resolve) => {
      const req = request(url, { agent, timeout: 5_000 }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          if (response.statusCode === 200) {
            result.succeeded += 1;
            result.bodies.set(body, (result.bodies.get(body) ?? 0) + 1);
          } else {
            result.failures.push(`status ${response.statusCode}: ${body.trim()}`);
          }
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (error) => {
        result.failures.push(error.message);
        resolve();
      });
      req.end();
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
  }

  const interval = 1000 / options.ratePerSecond;
  const timer = setInterval(() => {
    const due = Math.floor((Date.now() - started) / interval);
    while (!stopped && result.sent < Math.min(due, maxRequests)) fire();
    if (Date.now() - started > options.maxDurationMs) stopped = true;
  }, 5);

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...pending]);
      agent.destroy();
      return result;
    },
  };
}
