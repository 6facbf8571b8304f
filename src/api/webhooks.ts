/**
 * Webhooks out: subscriptions receive run events as CloudEvents, signed the Standard Webhooks
 * way with a `whsec_` secret that is answered once, when the subscription is made. A delivery
 * that failed its last attempt waits in the dead-letter list until an admin retries it.
 */
import { z } from "zod";
import { defineRoute } from "./contract.js";

export const subscriptionSchema = z.looseObject({
  id: z.string(),
  url: z.string(),
  /** Event type patterns: `run.finished`, `run.*`, or `*` */
  events: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type SubscriptionView = z.output<typeof subscriptionSchema>;

export const deliverySchema = z.looseObject({
  id: z.string(),
  subscriptionId: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  state: z.enum(["pending", "delivered", "dead"]),
  attempts: z.number().int(),
  nextAttemptAt: z.string(),
  lastError: z.string().nullable(),
  lastStatus: z.number().int().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type DeliveryView = z.output<typeof deliverySchema>;

const idParams = z.strictObject({ id: z.string().min(1).max(200) });

export const addWebhook = defineRoute({
  method: "POST",
  path: "/v1/webhooks",
  role: "admin",
  tag: "webhooks",
  summary: "Subscribe an http(s) URL to run events; the answer holds its signing secret, shown this once",
  body: z.strictObject({
    url: z.string().min(1).max(2048),
    events: z.array(z.string().min(1).max(256)).min(1).max(100),
  }),
  response: {
    status: 201,
    schema: z.looseObject({ subscription: subscriptionSchema, secret: z.string().startsWith("whsec_") }),
  },
});

export const listWebhooks = defineRoute({
  method: "GET",
  path: "/v1/webhooks",
  role: "viewer",
  tag: "webhooks",
  summary: "Webhook subscriptions (without their secrets) and the dead-letter list",
  response: {
    status: 200,
    schema: z.looseObject({
      subscriptions: z.array(subscriptionSchema),
      deadLetters: z.array(deliverySchema),
    }),
  },
});

export const removeWebhook = defineRoute({
  method: "DELETE",
  path: "/v1/webhooks/:id",
  role: "admin",
  tag: "webhooks",
  summary: "Remove a webhook subscription, with its pending deliveries and dead letters",
  params: idParams,
  response: { status: 200, schema: z.looseObject({ removed: z.string() }) },
});

export const retryDeadLetter = defineRoute({
  method: "POST",
  path: "/v1/webhooks/dead-letters/:id/retry",
  role: "admin",
  tag: "webhooks",
  summary: "Put a dead letter back in line for delivery, with a fresh count of attempts",
  params: idParams,
  body: z.strictObject({}).optional(),
  response: { status: 200, schema: z.looseObject({ delivery: deliverySchema }) },
});

export const webhookRoutes = [addWebhook, listWebhooks, removeWebhook, retryDeadLetter] as const;
