/**
 * Per-instance request accounting for one stage proxy. Everything the proxy learns about a
 * request's outcome goes through here, so that latency histograms and /metrics can be added
 * in this one place.
 */
import type { RequestStats } from "./types.js";

export interface RequestOutcome {
  /** The upstream status, when a response head arrived */
  status: number | null;
  /** The upstream failed: no connection, or the response broke off */
  upstreamFailed: boolean;
}

/** One proxied request; finish it exactly once. */
export interface RequestTally {
  finish(outcome: RequestOutcome): void;
}

interface InstanceCounters extends RequestStats {
  idleWaiters: Array<() => void>;
}

export class TrafficMeter {
  private readonly counters = new Map<string, InstanceCounters>();

  begin(instanceId: string): RequestTally {
    const counters = this.countersFor(instanceId);
    counters.requests += 1;
    counters.inFlight += 1;
    let finished = false;
    return {
      finish: (outcome) => {
        if (finished) return;
        finished = true;
        if (outcome.upstreamFailed || (outcome.status !== null && outcome.status >= 500))
          counters.errors += 1;
        counters.inFlight -= 1;
        if (counters.inFlight === 0) {
          for (const wake of counters.idleWaiters.splice(0)) wake();
        }
      },
    };
  }

  /** Resolves true once no request to the instance is in flight, or false after timeoutMs. */
  whenIdle(instanceId: string, timeoutMs: number): Promise<boolean> {
    const counters = this.counters.get(instanceId);
    if (counters === undefined || counters.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        counters.idleWaiters = counters.idleWaiters.filter((waiter) => waiter !== wake);
        resolve(false);
      }, timeoutMs);
      counters.idleWaiters.push(wake);
    });
  }

  snapshot(): Record<string, RequestStats> {
    const result: Record<string, RequestStats> = {};
    for (const [instanceId, { requests, errors, inFlight }] of this.counters) {
      result[instanceId] = { requests, errors, inFlight };
    }
    return result;
  }

  /** Drops a stopped instance's counters so they do not accumulate over many deployments. */
  forget(instanceId: string): void {
    const counters = this.counters.get(instanceId);
    if (counters === undefined) return;
    for (const wake of counters.idleWaiters.splice(0)) wake();
    this.counters.delete(instanceId);
  }

  private countersFor(instanceId: string): InstanceCounters {
    let counters = this.counters.get(instanceId);
    if (counters === undefined) {
      counters = { requests: 0, errors: 0, inFlight: 0, idleWaiters: [] };
      this.counters.set(instanceId, counters);
    }
    return counters;
  }
}
