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

const refParams = z.strictObject({ ref: z.string().min(1) });

/** Which signed document a list was read from; null when the artifact has none */
const sourceSchema = z
  .object({
    recordedAt: z.string(),
    stage: z.string().nullable(),
    valid: z.boolean(),
    reason: z.string().nullish(),
  })
  .nullable();

export const evidenceComponentsSchema = z.object({
  digest: z.string(),
  /** The newest SBOM attestation that verifies, else the newest one (then `valid` is false and no component is listed) */
  sbom: sourceSchema,
  /** Components in the SBOM; `matched` of them contain the filter */
  total: z.number(),
  matched: z.number(),
  offset: z.number(),
  limit: z.number(),
  components: z.array(
    z.object({
      purl: z.string(),
      name: z.string(),
      version: z.string(),
      scope: z.string().nullable(),
    }),
  ),
});
export type EvidenceComponentsView = z.output<typeof evidenceComponentsSchema>;

export const listEvidenceComponents = defineRoute({
  method: "GET",
  path: "/v1/evidence/:ref/components",
  role: "viewer",
  tag: "evidence",
  summary:
    "The components of an artifact's signed SBOM, in purl order, those whose purl contains `filter` (any case), `limit` from `offset`",
  params: refParams,
  query: z.strictObject({
    filter: z.string().max(200).default(""),
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  }),
  response: { status: 200, schema: evidenceComponentsSchema },
});

export const evidenceVulnerabilitiesSchema = z.object({
  digest: z.string(),
  /** The newest vulns attestation that verifies, else the newest one (then no finding is listed) */
  scan: sourceSchema,
  scanner: z.object({ uri: z.string(), version: z.string() }).nullable(),
  scannedAt: z.string().nullable(),
  database: z
    .object({
      /** The newest advisory the database held at the scan */
      lastUpdate: z.string().nullable(),
      /** How old that newest advisory was when the scan ran, in whole days */
      ageDaysAtScan: z.number().nullable(),
      advisories: z.record(z.string(), z.number()),
    })
    .nullable(),
  findings: z.array(
    z.object({
      id: z.string(),
      severity: z.string(),
      /** CVSS v3 base score, when the advisory has one */
      score: z.number().nullable(),
    }),
  ),
  /** Ecosystems of the artifact the database had no advisories for: an empty list says nothing of them */
  notScanned: z.array(z.object({ ecosystem: z.string(), packages: z.number() })),
});
export type EvidenceVulnerabilitiesView = z.output<typeof evidenceVulnerabilitiesSchema>;

export const getEvidenceVulnerabilities = defineRoute({
  method: "GET",
  path: "/v1/evidence/:ref/vulnerabilities",
  role: "viewer",
  tag: "evidence",
  summary:
    "The vulnerability findings of an artifact's signed scan, most severe first, with the advisory database's age at the scan",
  params: refParams,
  response: { status: 200, schema: evidenceVulnerabilitiesSchema },
});

export const evidenceRoutes = [
  recordAttestation,
  getEvidence,
  listEvidenceComponents,
  getEvidenceVulnerabilities,
];
