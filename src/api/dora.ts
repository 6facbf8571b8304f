/**
 * DORA's four keys per service and stage over a window: deployment frequency, lead time for
 * changes, change failure rate and time to restore, with DORA's performance band of each and
 * a series by day or week. How each is counted is written in `src/metrics/dora.ts`.
 */
import { z } from "zod";
import { defineRoute } from "./contract.js";

const band = z.enum(["elite", "high", "medium", "low"]);

export const doraQuerySchema = z.strictObject({
  service: z.string().min(1).optional(),
  /** How far back the window reaches from now: hours, days or weeks */
  since: z
    .string()
    .regex(/^[1-9]\d{0,4}[hdw]$/, { message: "expected a window such as 12h, 30d or 4w" })
    .default("30d"),
  /** The series' step */
  bucket: z.enum(["day", "week"]).default("week"),
});

export const stageDoraSchema = z.looseObject({
  service: z.string(),
  stage: z.string(),
  deployments: z.number().int(),
  deploymentsPerDay: z.number(),
  leadTime: z.looseObject({
    medianSeconds: z.number().nullable(),
    fromCommit: z.number().int(),
    fromShip: z.number().int(),
  }),
  changeFailure: z.looseObject({ failed: z.number().int(), ratio: z.number().nullable() }),
  timeToRestore: z.looseObject({
    medianSeconds: z.number().nullable(),
    restored: z.number().int(),
    unrestored: z.number().int(),
  }),
  bands: z.looseObject({
    deploymentFrequency: band,
    leadTime: band.nullable(),
    changeFailureRate: band.nullable(),
    timeToRestore: band.nullable(),
  }),
  series: z.array(
    z.looseObject({
      start: z.string(),
      deployments: z.number().int(),
      failures: z.number().int(),
      leadTimeSeconds: z.number().nullable(),
      timeToRestoreSeconds: z.number().nullable(),
    }),
  ),
});

export const doraReportSchema = z.looseObject({
  since: z.string(),
  until: z.string(),
  days: z.number(),
  bucket: z.enum(["day", "week"]),
  stages: z.array(stageDoraSchema),
});
export type DoraReportView = z.output<typeof doraReportSchema>;
export type StageDoraView = z.output<typeof stageDoraSchema>;

export const getDora = defineRoute({
  method: "GET",
  path: "/v1/dora",
  role: "viewer",
  tag: "metrics",
  summary:
    "DORA's four keys per service and stage over a window (deployment frequency, lead time, change failure rate, time to restore)",
  query: doraQuerySchema,
  response: { status: 200, schema: doraReportSchema },
});

export const doraRoutes = [getDora] as const;
