/**
 * Sends run events to webhook subscriptions. Each round it (1) fans out: takes the fan-out
 * cursor's lease, reads the event log after the cursor, and in one transaction writes a delivery
 * row for each matching (subscription, event) and moves the cursor; (2) delivers: claims due
 * deliveries one by one with a lease (a conditional UPDATE that also counts the attempt), POSTs
 * each as a structured CloudEvent signed the Standard Webhooks way, and records the answer;
 * (3) finishes intake events a dead replica left half done.
 *
 * Any number of replicas may run one on the same database: the leases make exactly one of them
 * fan out and exactly one send each attempt. After a `kill -9` nothing is lost (the cursor only
 * moves with the rows it created; a claimed delivery is claimed again once its lease runs out),
 * and nothing recorded as delivered is sent again. A request whose answer never got recorded is
 * sent again with the same `webhook-id`, by which a receiver can tell it was a resend.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { UserError, errorMessage } from "../errors.js";
import { parseDuration } from "../spec/units.js";
import { EVENT_TYPE_PREFIX, type StoredEvent } from "../store/events.js";
import type { ClaimedDelivery, FanOutEvent, IntegrationStore } from "../store/integration-store.js";
import type { Store } from "../store/store.js";
import type { EventIntake } from "./intake.js";
import { STRUCTURED_CONTENT_TYPE } from "./cloudevents.js";
import { signDelivery } from "./signing.js";
import { subscriptionTakes } from "./subscriptions.js";

/** A long log is fanned out over several rounds, so deliveries are not held up behind it */
const MAX_BATCHES_PER_ROUND = 10;

export interface DispatcherSettings {
  /** Pause between rounds */
  pollIntervalMs: number;
  /** Events read from the log, and deliveries claimed, per round */
  batchSize: number;
  /** Attempts of one delivery before it goes to the dead-letter list */
  maxAttempts: number;
  /** The pause after the first failed attempt; doubled after each further one, with jitter */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long a receiver may take to answer */
  requestTimeoutMs: number;
  /** Deliveries sent at the same time */
  concurrency: number;
}

export const DEFAULT_DISPATCHER_SETTINGS: DispatcherSettings = {
  pollIntervalMs: 1000,
  batchSize: 100,
  maxAttempts: 8,
  backoffBaseMs: 5_000,
  backoffMaxMs: 30 * 60_000,
  requestTimeoutMs: 10_000,
  concurrency: 4,
};

/**
 * What the environment of `waybill serve` changes: `WAYBILL_WEBHOOK_BACKOFF` is the pause after a
 * delivery's first failed attempt (a duration such as 500ms or 1m; 5s when unset). A receiver that
 * is down for hours is better served by a longer one; end-to-end tests use a short one so a retry
 * comes within seconds.
 */
export function dispatcherSettingsFromEnv(
  env: Record<string, string | undefined>,
): Partial<DispatcherSettings> {
  const backoff = env.WAYBILL_WEBHOOK_BACKOFF?.trim();
  if (backoff === undefined || backoff === "") return {};
  let ms: number;
  try {
    ms = parseDuration(backoff);
  } catch (error) {
    throw new UserError(`WAYBILL_WEBHOOK_BACKOFF: ${errorMessage(error)}`);
  }
  if (ms < 100 || ms > DEFAULT_DISPATCHER_SETTINGS.backoffMaxMs) {
    throw new UserError(
      `WAYBILL_WEBHOOK_BACKOFF is ${backoff}: the first retry's pause must be from 100ms to 30m`,
    );
  }
  return { backoffBaseMs: ms };
}

export interface DispatcherDependencies {
  store: Pick<Store, "events">;
  integrations: IntegrationStore;
  /** Finishes intake events whose replica died mid-action, once per round */
  intake?: Pick<EventIntake, "resumeAbandoned">;
  settings?: Partial<DispatcherSettings>;
  /** Where a failure is told; never given a secret or a URL's query */
  log?: (line: string) => void;
  /**
   * The clock that dates signatures, and the jitter, replaceable so backoff can be checked
   * exactly. Leases and due times are the database's clock (the integration store's), not this.
   */
  now?: () => number;
  random?: () => number;
}

export class WebhookDispatcher {
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly settings: DispatcherSettings;
  private readonly now: () => number;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private running = false;

  constructor(private readonly deps: DispatcherDependencies) {
    this.settings = { ...DEFAULT_DISPATCHER_SETTINGS, ...deps.settings };
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops after the round under way, whose requests finish (each bounded by the request timeout). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }

  /** One round: fan out, deliver what is due, finish abandoned intake. Errors are told, not thrown. */
  async runOnce(): Promise<void> {
    await this.step("fan-out", () => this.fanOut());
    await this.step("delivery", () => this.deliverDue());
    const intake = this.deps.intake;
    if (intake !== undefined) await this.step("event intake", () => intake.resumeAbandoned());
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.round = this.runOnce().finally(() => {
        if (this.running) this.schedule(this.settings.pollIntervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async step(what: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.deps.log?.(`webhooks: ${what} failed, tried again next round: ${errorMessage(error)}`);
    }
  }

  /** Fans out every event after the cursor, a batch at a time, while this replica holds the cursor */
  private async fanOut(): Promise<void> {
    const leaseMs = this.leaseMs();
    for (let batch = 0; batch < MAX_BATCHES_PER_ROUND; batch++) {
      const cursor = await this.deps.integrations.claimFanOut(this.holder, leaseMs);
      if (cursor === undefined) return;
      const events = await this.deps.store.events({ afterSeq: cursor, limit: this.settings.batchSize });
      const last = events.at(-1);
      if (last === undefined) return;
      await this.deps.integrations.fanOut(
        this.holder,
        events.filter((event) => event.waybillrun !== undefined).map(fanOutEvent),
        last.seq,
        subscriptionTakes,
      );
      if (events.length < this.settings.batchSize) return;
    }
  }

  private async deliverDue(): Promise<void> {
    const due = await this.deps.integrations.dueDeliveries(this.settings.batchSize);
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const id = due[next++];
        if (id === undefined) return;
        const claimed = await this.deps.integrations.claimDelivery(id, this.holder, this.leaseMs());
        if (claimed !== undefined) await this.attempt(claimed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.concurrency, due.length) }, worker));
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const sent = await this.send(delivery);
    if (sent.ok) {
      await this.deps.integrations.markDelivered(delivery.id, this.holder, sent.status);
      return;
    }
    const last = delivery.attempts >= this.settings.maxAttempts;
    await this.deps.integrations.markFailed(delivery.id, this.holder, {
      error: sent.error,
      status: sent.status,
      retryInMs: last ? null : this.backoffMs(delivery.attempts),
    });
    this.deps.log?.(
      `webhooks: delivery ${delivery.id} of ${delivery.eventType} to subscription ${delivery.subscriptionId} failed ` +
        `(attempt ${delivery.attempts} of ${this.settings.maxAttempts}): ${sent.error}` +
        (last ? "; it is in the dead-letter list now" : ""),
    );
  }

  private async send(
    delivery: ClaimedDelivery,
  ): Promise<{ ok: true; status: number } | { ok: false; status: number | null; error: string }> {
    const headers = signDelivery(delivery.secret, delivery.id, new Date(this.now()), delivery.payload);
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers: { "content-type": STRUCTURED_CONTENT_TYPE, "user-agent": "waybill-webhooks", ...headers },
        body: delivery.payload,
        // A redirect could lead anywhere: only the URL an admin registered is called.
        redirect: "manual",
        signal: AbortSignal.timeout(this.settings.requestTimeoutMs),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return { ok: false, status: response.status, error: `the receiver answered HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, status: null, error: requestError(error, this.settings.requestTimeoutMs) };
    }
  }

  /** Exponential, capped, with "equal jitter": half the pause is fixed, half random, so retries spread. */
  backoffMs(failedAttempts: number): number {
    const exponential = this.settings.backoffBaseMs * 2 ** Math.max(0, failedAttempts - 1);
    const capped = Math.min(this.settings.backoffMaxMs, exponential);
    return Math.round(capped / 2 + (this.random() * capped) / 2);
  }

  /** Long enough that a claim never runs out while its request may still be answered */
  private leaseMs(): number {
    return 2 * this.settings.requestTimeoutMs + 5_000;
  }
}

function fanOutEvent(event: StoredEvent): FanOutEvent {
  const { seq, ...cloudEvent } = event;
  return {
    seq,
    id: event.id,
    type: event.type.startsWith(EVENT_TYPE_PREFIX) ? event.type.slice(EVENT_TYPE_PREFIX.length) : event.type,
    time: event.time,
    payload: JSON.stringify(cloudEvent),
  };
}

function requestError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `the receiver did not answer within ${timeoutMs} ms`;
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? errorMessage(error);
}
