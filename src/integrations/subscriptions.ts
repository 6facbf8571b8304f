/**
 * Webhook subscriptions: where run events go, and which ones. A subscription's URL is http(s)
 * only and carries no user:password (it is listed to every viewer); its event patterns are
 * short event types (`run.finished`), a family (`run.*`), or `*` for every run event.
 */
import { ConflictError, NotFoundError, UserError } from "../errors.js";
import { EVENT_TYPE_PREFIX } from "../store/events.js";
import type {
  DeliveryRecord,
  FanOutEvent,
  IntegrationStore,
  SubscriptionRecord,
} from "../store/integration-store.js";

const PATTERN = /^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(\.\*)?)$/;
const MAX_URL_LENGTH = 2048;

/** The URL as it will be called, or a UserError saying what is wrong with it */
export function checkWebhookUrl(given: string): string {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UserError(`"${given.slice(0, 200)}" is not a URL: give an http:// or https:// URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UserError(`a webhook URL is http:// or https://, not ${url.protocol}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new UserError(
      "a webhook URL carries no user or password (subscriptions are listed to every viewer): " +
        "the receiver checks the webhook-signature header instead",
    );
  }
  if (url.hash !== "") throw new UserError("a webhook URL has no #fragment");
  if (given.length > MAX_URL_LENGTH)
    throw new UserError(`a webhook URL is at most ${MAX_URL_LENGTH} characters`);
  return url.toString();
}

/** Event patterns in their short form (`dev.waybill.run.finished` is `run.finished`), each once */
export function checkEventPatterns(given: readonly string[]): string[] {
  if (given.length === 0) throw new UserError("name the events to send: --events run.finished, run.*, or *");
  const patterns = given.map((pattern) => {
    const short = pattern.startsWith(EVENT_TYPE_PREFIX) ? pattern.slice(EVENT_TYPE_PREFIX.length) : pattern;
    if (!PATTERN.test(short)) {
      throw new UserError(
        `"${pattern.slice(0, 100)}" is no event pattern: give an event type such as run.finished, a family such as run.*, or *`,
      );
    }
    return short;
  });
  return [...new Set(patterns)];
}

export function patternMatches(pattern: string, shortType: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return shortType.startsWith(pattern.slice(0, -1));
  return pattern === shortType;
}

/** Whether a subscription takes an event: it matches a pattern, and happened after the subscription was made */
export function subscriptionTakes(subscription: SubscriptionRecord, event: FanOutEvent): boolean {
  return (
    event.time >= subscription.createdAt &&
    subscription.events.some((pattern) => patternMatches(pattern, event.type))
  );
}

export interface SubscriptionsView {
  subscriptions: SubscriptionRecord[];
  deadLetters: DeliveryRecord[];
}

/** Subscriptions (without secrets) and the dead-letter list, for `GET /v1/webhooks` */
export async function webhooksView(store: IntegrationStore): Promise<SubscriptionsView> {
  const [subscriptions, deadLetters] = await Promise.all([
    store.listSubscriptions(),
    store.deliveries({ state: "dead" }),
  ]);
  return { subscriptions, deadLetters };
}

/** Subscribes a URL; the answer's secret is the only time it is shown */
export async function addSubscription(
  store: IntegrationStore,
  input: { url: string; events: readonly string[] },
  by: string,
): Promise<{ subscription: SubscriptionRecord; secret: string }> {
  return store.addSubscription({
    url: checkWebhookUrl(input.url),
    events: checkEventPatterns(input.events),
    createdBy: by,
    now: new Date().toISOString(),
  });
}

export async function removeSubscription(store: IntegrationStore, id: string): Promise<void> {
  if (!(await store.removeSubscription(id)))
    throw new NotFoundError(`no webhook subscription with id "${id}"`);
}

/** Puts a dead letter back in line; one that is not dead (pending, delivered, unknown) is refused */
export async function retryDeadLetter(store: IntegrationStore, id: string): Promise<DeliveryRecord> {
  const delivery = await store.delivery(id);
  if (delivery === undefined) throw new NotFoundError(`no webhook delivery with id "${id}"`);
  if (!(await store.retryDeadLetter(id))) {
    throw new ConflictError(`delivery ${id} is ${delivery.state}, not in the dead-letter list`);
  }
  return (await store.delivery(id)) ?? delivery;
}
