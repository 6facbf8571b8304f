/** Runs: their listing, one run with its events and gate verdict, and a person's decision. */
import { z } from "zod";
import { defineRoute } from "./contract.js";
import { evaluationRecordSchema } from "./signatures.js";

export const runStates = [
  "queued",
  "running",
  "waiting-approval",
  "rolling-back",
  "succeeded",
  "failed",
] as const;

export const runSchema = z.object({
  id: z.string(),
  service: z.string(),
  stage: z.string(),
  version: z.string(),
  digest: z.string(),
  kind: z.enum(["ship", "rollback", "rightsize"]),
  state: z.enum(runStates),
  result: z.enum(["pass", "warning", "fail"]).nullable(),
  task: z.string().nullable(),
  reason: z.string().nullable(),
  shipId: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** What its running task last said about where it stands (a load test's requests, p95, errors) */
  progress: z.string().optional(),
  /** For a queued run: the run of its stage it waits behind */
  waitingFor: z.object({ id: z.string(), state: z.string(), version: z.string() }).optional(),
});
export type RunView = z.output<typeof runSchema>;

/** An event of the log, as CloudEvents 1.0 JSON */
export const eventSchema = z.object({
  specversion: z.literal("1.0"),
  id: z.string(),
  source: z.string(),
  type: z.string(),
  time: z.string(),
  subject: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type EventView = z.output<typeof eventSchema>;

const runParams = z.strictObject({ id: z.string().min(1) });

export const listRuns = defineRoute({
  method: "GET",
  path: "/v1/runs",
  role: "viewer",
  tag: "runs",
  summary: "Runs, oldest first (at most `limit`, default 200), each queued one with the run it waits behind",
  query: z.strictObject({
    service: z.string().optional(),
    ship: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  }),
  response: { status: 200, schema: z.object({ runs: z.array(runSchema) }) },
});

export const getRun = defineRoute({
  method: "GET",
  path: "/v1/runs/:id",
  role: "viewer",
  tag: "runs",
  summary: "One run: its state, its events, and its gate verdict",
  params: runParams,
  response: {
    status: 200,
    schema: runSchema.extend({
      evaluation: evaluationRecordSchema.nullable(),
      events: z.array(eventSchema),
    }),
  },
});

export const approveRun = defineRoute({
  method: "POST",
  path: "/v1/runs/:id/approve",
  role: "approver",
  tag: "runs",
  summary: "Approve a run that waits for approval",
  params: runParams,
  body: z.strictObject({}).optional(),
  response: { status: 200, schema: runSchema },
});

export const rejectRun = defineRoute({
  method: "POST",
  path: "/v1/runs/:id/reject",
  role: "approver",
  tag: "runs",
  summary: "Reject a run that waits for approval",
  params: runParams,
  body: z
    .strictObject({
      reason: z
        .string()
        .max(2000)
        // eslint-disable-next-line no-control-regex
        .regex(/^[^\u0000-\u001f\u007f]*$/, {
          message: "a reason is one line of text, without control characters",
        })
        .optional(),
    })
    .optional(),
  response: { status: 200, schema: runSchema },
});

export const runRoutes = [listRuns, getRun, approveRun, rejectRun];
