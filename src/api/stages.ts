/** A service's stage: roll it back, rightsize it, read its instances' logs. */
import { z } from "zod";
import { durationSchema } from "../spec/schema.js";
import { defineRoute } from "./contract.js";
import { runSchema } from "./runs.js";

const stageParams = z.strictObject({ service: z.string().min(1), stage: z.string().min(1) });

export const rollBackStage = defineRoute({
  method: "POST",
  path: "/v1/services/:service/stages/:stage/rollback",
  role: "developer",
  tag: "stages",
  summary: "Queue a run that puts the stage's previous release back",
  params: stageParams,
  body: z.strictObject({}).optional(),
  response: { status: 201, schema: runSchema },
});

export const rightsizeStage = defineRoute({
  method: "POST",
  path: "/v1/services/:service/stages/:stage/rightsize",
  role: "developer",
  tag: "stages",
  summary: "Queue a run that finds the stage's minimum environment by experiment",
  params: stageParams,
  body: z
    .strictObject({
      maxSteps: z.number().int().min(1).max(40).optional(),
      maxDuration: durationSchema.optional(),
    })
    .optional(),
  response: { status: 201, schema: runSchema },
});

export const stageLogs = defineRoute({
  method: "GET",
  path: "/v1/services/:service/stages/:stage/logs",
  role: "viewer",
  tag: "stages",
  summary: "The tail of the stage's instances' stdout or stderr",
  params: stageParams,
  query: z.strictObject({
    stream: z.enum(["stdout", "stderr"]).default("stdout"),
    tail: z.coerce.number().int().min(1).max(10_000_000).default(65_536),
  }),
  response: { status: 200, contentType: "text/plain; charset=utf-8", description: "the log's last bytes" },
});

export const stageRoutes = [rollBackStage, rightsizeStage, stageLogs];
