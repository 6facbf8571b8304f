import type { FastifyInstance } from "fastify";
import { getPolicy, listPolicies, setPolicy } from "../../api/policies.js";
import { NotFoundError } from "../../errors.js";
import { EVERY_SERVICE, type StagePolicies } from "../../engine/policies.js";
import { serviceFor } from "../../engine/run-views.js";
import type { Store } from "../../store/store.js";
import { actorOf } from "../actor.js";
import { registerRoute } from "../route.js";

export interface PolicyRouteDependencies {
  store: Store;
  policies: StagePolicies;
}

export function registerPolicyRoutes(app: FastifyInstance, deps: PolicyRouteDependencies): void {
  registerRoute(app, listPolicies, async ({ query }) => {
    if (query.service !== undefined && query.service !== EVERY_SERVICE)
      await serviceFor(deps.store, query.service);
    return { policies: await deps.policies.list(query.service) };
  });

  registerRoute(app, getPolicy, async ({ params }) => {
    const { service, stage } = params;
    const inForce = (await deps.policies.list(service)).find((policy) => policy.stage === stage);
    const history = await deps.policies.history(service, stage);
    if (inForce === undefined && history.length === 0) {
      throw new NotFoundError(`no policy is kept for ${service}/${stage}`);
    }
    return { current: inForce ?? null, history };
  });

  registerRoute(app, setPolicy, async ({ params, body, request }) => {
    const { service, stage } = params;
    if (service !== EVERY_SERVICE) await serviceFor(deps.store, service);
    const event = await deps.policies.change(service, stage, body, actorOf(request));
    if (event !== undefined) await deps.store.append([event]);
    const [current] = await deps.policies.history(service, stage);
    return { changed: event !== undefined, current: current ?? null };
  });
}
