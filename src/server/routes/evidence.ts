import type { FastifyInstance } from "fastify";
import {
  getEvidence,
  getEvidenceVulnerabilities,
  listEvidenceComponents,
  recordAttestation,
} from "../../api/evidence.js";
import { formatBundle } from "../../evidence/attestation/bundle.js";
import type { EvidenceService } from "../../evidence/evidence-service.js";
import {
  evidenceComponents,
  evidenceEnvelopes,
  evidenceReport,
  evidenceVulnerabilities,
  recordAttestation as record,
} from "../../engine/evidence-report.js";
import type { Store } from "../../store/store.js";
import { registerRoute } from "../route.js";

export interface EvidenceRouteDependencies {
  store: Store;
  evidence: EvidenceService;
}

export function registerEvidenceRoutes(app: FastifyInstance, deps: EvidenceRouteDependencies): void {
  registerRoute(app, recordAttestation, async ({ body }) => record(deps.store, deps.evidence, body.envelope));

  registerRoute(app, getEvidence, async ({ params, query, reply }) => {
    if (query.format === "bundle") {
      return reply
        .type("application/jsonl")
        .send(formatBundle(await evidenceEnvelopes(deps.store, params.ref)));
    }
    return evidenceReport(deps.store, deps.evidence, params.ref);
  });

  registerRoute(app, listEvidenceComponents, async ({ params, query }) =>
    evidenceComponents(deps.store, deps.evidence, params.ref, query),
  );

  registerRoute(app, getEvidenceVulnerabilities, async ({ params }) =>
    evidenceVulnerabilities(deps.store, deps.evidence, params.ref),
  );
}
