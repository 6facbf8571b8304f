/** Webhook subscriptions and their dead letters: the routes translate, `src/integrations` decides. */
import type { FastifyInstance } from "fastify";
import { addWebhook, listWebhooks, removeWebhook, retryDeadLetter } from "../../api/webhooks.js";
import {
  addSubscription,
  removeSubscription,
  retryDeadLetter as retry,
  webhooksView,
} from "../../integrations/subscriptions.js";
import type { IntegrationStore } from "../../store/integration-store.js";
import { registerRoute } from "../route.js";

export interface WebhookRouteDependencies {
  integrations: IntegrationStore;
}

export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookRouteDependencies): void {
  registerRoute(app, addWebhook, async ({ body, request }) =>
    addSubscription(deps.integrations, body, request.principal?.name ?? "unknown"),
  );

  registerRoute(app, listWebhooks, async () => {
    const view = await webhooksView(deps.integrations);
    return {
      subscriptions: view.subscriptions.map((subscription) => ({ ...subscription })),
      deadLetters: view.deadLetters.map((delivery) => ({ ...delivery })),
    };
  });

  registerRoute(app, removeWebhook, async ({ params }) => {
    await removeSubscription(deps.integrations, params.id);
    return { removed: params.id };
  });

  registerRoute(app, retryDeadLetter, async ({ params }) => ({
    delivery: { ...(await retry(deps.integrations, params.id)) },
  }));
}
