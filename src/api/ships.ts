/** Ships: an artifact handed to Waybill, with its spec, to carry through its stages. */
import { z } from "zod";
import { versionLabelSchema } from "../spec/version-label.js";
import { defineRoute } from "./contract.js";
import { runSchema } from "./runs.js";

/** What the CLI's build recorded, carried into the artifact's provenance */
export const buildFactsSchema = z.strictObject({
  command: z.string(),
  internalParameters: z.record(z.string(), z.unknown()).optional(),
  source: z.strictObject({
    repository: z.string().min(1),
    ref: z.string().optional(),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    /** When the commit was made (ISO 8601), for DORA's lead time */
    committedAt: z.string().optional(),
    dirty: z.boolean(),
    signedCommit: z.boolean(),
  }),
  lockfiles: z.array(z.strictObject({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
  startedOn: z.string(),
  finishedOn: z.string(),
});

export const shipBodySchema = z
  .strictObject({
    /** The parsed waybill.yaml, checked again by the server */
    spec: z.unknown(),
    serviceDir: z.string().min(1),
    artifactDir: z.string().min(1).optional(),
    image: z.string().min(1).optional(),
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    version: versionLabelSchema,
    build: buildFactsSchema.optional(),
  })
  .refine((body) => (body.artifactDir === undefined) !== (body.image === undefined), {
    message: "give artifactDir (a folder, for local targets) or image (for Kubernetes targets), exactly one",
  });
export type ShipBody = z.output<typeof shipBodySchema>;

export const createShip = defineRoute({
  method: "POST",
  path: "/v1/ships",
  role: "developer",
  tag: "ships",
  summary: "Ship an artifact: record it and queue a run for each of its stages",
  body: shipBodySchema,
  response: {
    status: 201,
    schema: z.object({ shipId: z.string(), runs: z.array(runSchema) }),
  },
});

export const shipRoutes = [createShip];
