/**
 * CloudEvents in: `POST /v1/events` takes one CloudEvent 1.0, in structured mode
 * (`application/cloudevents+json`) or binary mode (`ce-*` headers, the data as the body, of any
 * media type), and acts on it: a ship, an approval or a rejection (see
 * `src/integrations/README.md` for the event types and their data). A resent (source, id) is
 * answered as a duplicate, and does nothing more.
 */
import { z } from "zod";
import { defineRoute } from "./contract.js";

export const intakeActions = ["ship", "approve", "reject"] as const;

export const intakeAnswerSchema = z.looseObject({
  source: z.string(),
  id: z.string(),
  type: z.string(),
  action: z.enum(intakeActions),
  /** True when this (source, id) was received before: nothing more was done */
  duplicate: z.boolean(),
  /** "acting" while the first receipt's ship or approval is under way */
  state: z.enum(["acting", "done"]),
  /** What was done: `{shipId, runs}` for a ship, `{run}` for a decision */
  outcome: z.record(z.string(), z.unknown()).nullable(),
});
export type IntakeAnswerView = z.output<typeof intakeAnswerSchema>;

export const receivedEventSchema = z.looseObject({
  source: z.string(),
  id: z.string(),
  type: z.string(),
  action: z.enum(intakeActions),
  receivedBy: z.string(),
  receivedAt: z.string(),
  state: z.enum(["acting", "done"]),
  outcome: z.record(z.string(), z.unknown()).nullable(),
  /** The event as received, in its structured-mode JSON form */
  event: z.record(z.string(), z.unknown()),
});
export type ReceivedEventView = z.output<typeof receivedEventSchema>;

export const receiveEvent = defineRoute({
  method: "POST",
  path: "/v1/events",
  role: "developer",
  tag: "events",
  summary:
    "Receive a CloudEvent (structured or binary mode) and act on it: ship an image or a recorded artifact, or decide an approval (approver role)",
  rawBody: {
    contentTypes: ["application/cloudevents+json", "*/*"],
    description:
      "Structured mode: the event as application/cloudevents+json. Binary mode: ce-specversion, ce-id, ce-source and ce-type headers, the data as the body (its media type in Content-Type).",
  },
  response: { status: 202, schema: intakeAnswerSchema },
});

export const listReceivedEvents = defineRoute({
  method: "GET",
  path: "/v1/events",
  role: "viewer",
  tag: "events",
  summary: "CloudEvents received on POST /v1/events, newest first (at most `limit`, default 100)",
  query: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
  response: { status: 200, schema: z.looseObject({ events: z.array(receivedEventSchema) }) },
});

export const eventRoutes = [receiveEvent, listReceivedEvents] as const;
