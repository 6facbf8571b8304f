/**
 * `POST /v1/events` and `GET /v1/events`. The POST route reads its body raw in a scope of its
 * own: a binary-mode CloudEvent's data may be of any media type, and a structured one comes as
 * application/cloudevents+json, which the app-wide JSON parser would not take.
 */
import type { FastifyInstance } from "fastify";
import { listReceivedEvents, receiveEvent } from "../../api/events.js";
import { parseCloudEvent } from "../../integrations/cloudevents.js";
import type { EventIntake } from "../../integrations/intake.js";
import type { IntegrationStore } from "../../store/integration-store.js";
import { registerRoute } from "../route.js";

export interface EventRouteDependencies {
  intake: Pick<EventIntake, "receive">;
  integrations: Pick<IntegrationStore, "listIntake">;
}

export function registerEventRoutes(app: FastifyInstance, deps: EventRouteDependencies): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    registerRoute(scope, receiveEvent, async ({ request }) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const event = parseCloudEvent({ headers: request.headers, body });
      return deps.intake.receive(event, request.principal ?? { name: "unknown", role: "viewer" });
    });
  });

  registerRoute(app, listReceivedEvents, async ({ query }) => {
    const records = await deps.integrations.listIntake(query.limit ?? 100);
    return { events: records };
  });
}
