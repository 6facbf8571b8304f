import type { FastifyInstance } from "fastify";
import { approveRun, getRun, listRuns, rejectRun } from "../../api/runs.js";
import { STATUS_PAGE, getStatus } from "../../api/status.js";
import type { Engine } from "../../engine/engine.js";
import type { Evaluation } from "../../gate/slo-evaluation.js";
import { findRun, listRunViews, publicRun, serviceStatus, waitingRun } from "../../engine/run-views.js";
import type { RunRecord, Store } from "../../store/store.js";
import { registerRoute } from "../route.js";

export interface RunRouteDependencies {
  store: Store;
  engine: Pick<Engine, "liveProgress" | "approve" | "reject">;
  stageUrl(service: string, stage: string): string | undefined;
}

export function registerRunRoutes(app: FastifyInstance, deps: RunRouteDependencies): void {
  const liveOf = (run: Pick<RunRecord, "id" | "state">): { progress?: string } => {
    const progress = run.state === "running" ? deps.engine.liveProgress(run.id) : undefined;
    return progress === undefined ? {} : { progress };
  };

  registerRoute(app, getStatus, async ({ query }) =>
    serviceStatus(deps.store, deps.stageUrl, query.service, {
      limit: query.limit ?? STATUS_PAGE.default,
      ...(query.after === undefined ? {} : { after: query.after }),
    }),
  );

  registerRoute(app, listRuns, async ({ query }) => {
    const runs = await listRunViews(deps.store, {
      ...(query.service === undefined ? {} : { service: query.service }),
      ...(query.ship === undefined ? {} : { shipId: query.ship }),
      limit: query.limit ?? 200,
    });
    return { runs: runs.map((run) => ({ ...run, ...liveOf(run) })) };
  });

  registerRoute(app, getRun, async ({ params }) => {
    const run = await findRun(deps.store, params.id);
    const events = await deps.store.events({ run: run.id });
    const evaluation = (await deps.store.evaluations(run.service, run.stage)).find((e) => e.runId === run.id);
    return {
      ...publicRun(run),
      ...liveOf(run),
      // The engine records the gate's Evaluation; the log keeps it as it was written.
      evaluation:
        evaluation === undefined ? null : { ...evaluation, evaluation: evaluation.evaluation as Evaluation },
      events: events.map(({ seq: _seq, ...cloudEvent }) => cloudEvent),
    };
  });

  registerRoute(app, approveRun, async ({ params, request }) => {
    const run = await waitingRun(deps.store, params.id);
    await deps.engine.approve(run.id, request.principal?.name ?? "unknown");
    return publicRun(await findRun(deps.store, run.id));
  });

  registerRoute(app, rejectRun, async ({ params, body, request }) => {
    const run = await waitingRun(deps.store, params.id);
    await deps.engine.reject(run.id, request.principal?.name ?? "unknown", body?.reason ?? "rejected");
    return publicRun(await findRun(deps.store, run.id));
  });
}
