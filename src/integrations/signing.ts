/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `<webhook-id>.<webhook-timestamp>.<body>` with the subscription's `whsec_` secret, sent as
 * `webhook-signature: v1,<base64>`. The id stays the same on every attempt of one delivery, so
 * a receiver that saw it already can drop a resend; the timestamp is the attempt's own, so a
 * verifier's five-minute tolerance holds for late retries too.
 */
import { Webhook } from "standardwebhooks";

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

export function signDelivery(secret: string, messageId: string, at: Date, body: string): SignedHeaders {
  const seconds = Math.floor(at.getTime() / 1000);
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(seconds),
    "webhook-signature": new Webhook(secret).sign(messageId, new Date(seconds * 1000), body),
  };
}
