/** Evidence: signed attestations about an artifact, and where the artifact ran. */
import { z } from "zod";
import { defineRoute } from "./contract.js";

export const envelopeSchema = z.strictObject({
  payloadType: z.string(),
  payload: z.string(),
  signatures: z.array(z.strictObject({ keyid: z.string().optional(), sig: z.string() })).min(1),
});

export const recordAttestation = defineRoute({
  method: "POST",
  path: "/v1/attestations",
  role: "developer",
  tag: "evidence",
  summary: "Record a DSSE envelope (an in-toto statement) about every artifact its subjects name",
  body: z.strictObject({ envelope: envelopeSchema }),
  response: {
    status: 201,
    schema: z.object({
      predicateType: z.string(),
      recorded: z.array(
        z.object({
          service: z.string(),
          digest: z.string(),
          valid: z.boolean(),
          reason: z.string().nullish(),
        }),
      ),
    }),
  },
});

export const evidenceSchema = z.object({
  artifact: z.object({ service: z.string(), version: z.string(), digest: z.string() }),
  attestations: z.array(
    z.object({
      predicateType: z.string(),
      stage: z.string().nullable(),
      recordedAt: z.string(),
      valid: z.boolean(),
      reason: z.string().nullish(),
      signedBy: z.array(z.string()),
      summary: z.string().optional(),
    }),
  ),
  deployments: z.array(
    z.object({
      service: z.string(),
      stage: z.string(),
      target: z.string(),
      from: z.string(),
      until: z.string().nullable(),
    }),
  ),
});
export type EvidenceView = z.output<typeof evidenceSchema>;

export const getEvidence = defineRoute({
  method: "GET",
  path: "/v1/evidence/:ref",
  role: "viewer",
  tag: "evidence",
  summary:
    "An artifact's attestations, each verified, and its deployments; `format=bundle` answers the envelopes as JSON lines",
  params: z.strictObject({ ref: z.string().min(1) }),
  query: z.strictObject({ format: z.enum(["json", "bundle"]).default("json") }),
  response: { status: 200, schema: evidenceSchema },
});

export const evidenceRoutes = [recordAttestation, getEvidence];
