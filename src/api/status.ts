/** Where each service's stages stand: what is live, what runs, what waits. */
import { z } from "zod";
import { defineRoute } from "./contract.js";

export const stageStatusSchema = z.object({
  name: z.string(),
  version: z.string().nullable(),
  digest: z.string().nullable(),
  state: z.enum(["released", "running", "waiting-approval", "failed", "rolled-back", "empty"]),
  url: z.string().nullable(),
  /** The run now in progress or last finished, if any */
  runId: z.string().nullable(),
  reason: z.string().nullable(),
  /** Runs waiting their turn on this stage, oldest first */
  queued: z.array(z.object({ id: z.string(), version: z.string() })),
  targets: z.array(
    z.object({ name: z.string(), version: z.string(), digest: z.string(), releasedAt: z.string() }),
  ),
});

export const statusSchema = z.object({
  services: z.array(z.object({ name: z.string(), stages: z.array(stageStatusSchema) })),
});
export type StatusView = z.output<typeof statusSchema>;

export const getStatus = defineRoute({
  method: "GET",
  path: "/v1/status",
  role: "viewer",
  tag: "status",
  summary: "Each service's stages: the live version, the run in progress, the queue",
  query: z.strictObject({ service: z.string().optional() }),
  response: { status: 200, schema: statusSchema },
});

export const statusRoutes = [getStatus];
