import type { FastifyInstance } from "fastify";
import { rightsizeStage, rollBackStage, stageLogs } from "../../api/stages.js";
import type { Deliveries } from "../../engine/deliveries.js";
import { publicRun } from "../../engine/run-views.js";
import { parseDuration } from "../../spec/units.js";
import { registerRoute } from "../route.js";

export interface StageRouteDependencies {
  deliveries: Pick<Deliveries, "rollback" | "rightsize" | "requireStage">;
  readLogs(service: string, stage: string, stream: "stdout" | "stderr", tailBytes: number): Promise<string>;
}

export function registerStageRoutes(app: FastifyInstance, deps: StageRouteDependencies): void {
  registerRoute(app, rollBackStage, async ({ params }) =>
    publicRun(await deps.deliveries.rollback(params.service, params.stage)),
  );

  registerRoute(app, rightsizeStage, async ({ params, body }) => {
    const run = await deps.deliveries.rightsize(params.service, params.stage, {
      ...(body?.maxSteps === undefined ? {} : { maxSteps: body.maxSteps }),
      ...(body?.maxDuration === undefined ? {} : { maxDurationMs: parseDuration(body.maxDuration) }),
    });
    return publicRun(run);
  });

  registerRoute(app, stageLogs, async ({ params, query, reply }) => {
    await deps.deliveries.requireStage(params.service, params.stage);
    const text = await deps.readLogs(params.service, params.stage, query.stream, query.tail);
    return reply.type("text/plain; charset=utf-8").send(text);
  });
}
