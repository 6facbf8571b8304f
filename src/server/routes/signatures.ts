import type { FastifyInstance } from "fastify";
import { diffSignatures, listSignatures, signatureHeatmap } from "../../api/signatures.js";
import { compareBuilds, signatureHeatmap as heatmapOf, signaturesOf } from "../../engine/signatures.js";
import type { Store } from "../../store/store.js";
import { registerRoute } from "../route.js";

export interface SignatureRouteDependencies {
  store: Store;
}

export function registerSignatureRoutes(app: FastifyInstance, deps: SignatureRouteDependencies): void {
  registerRoute(app, listSignatures, async ({ query }) => ({
    signatures: await signaturesOf(deps.store, query),
  }));
  registerRoute(app, diffSignatures, async ({ query }) => compareBuilds(deps.store, query));
  registerRoute(app, signatureHeatmap, async ({ query }) => heatmapOf(deps.store, query));
}
