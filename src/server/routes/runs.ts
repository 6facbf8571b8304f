import type { FastifyInstance } from "fastify";
import { approveRun, getRun, listRuns, rejectRun } from "../../api/runs.js";
import { STATUS_PAGE, getStatus } from "../../api/status.js";
import { ReadCache, StoreHead } from "../read-cache.js";
import type { Engine } from "../../engine/engine.js";
import type { Evaluation } from "../../gate/slo-evaluation.js";
import {
  findRun,
  listRunViews,
  publicRun,
  serviceStatus,
  waitingRun,
  withStageUrls,
  type ServicesStatus,
} from "../../engine/run-views.js";
import type { RunRecord, Store } from "../../store/store.js";
import { SerializedAnswer, registerRoute } from "../route.js";

type RunViews = Awaited<ReturnType<typeof listRunViews>>;

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

  // The status and run lists are kept while the store's head stays (read-cache.ts), with their
  // JSON. What this machine adds (proxy URLs, live progress) is never kept in the answer: the
  // JSON is made again when the URLs differ from the ones it was made with, or a run is running.
  // The sizes bound memory: a status page is up to ~110 KiB, a list of 1,000 runs ~330 KiB.
  const head = new StoreHead(() => deps.store.head());
  const statuses = new ReadCache<ServicesStatus>(head, 256);
  const runLists = new ReadCache<RunViews>(head, 64);
  const statusJson = new WeakMap<ServicesStatus, { urls: string; json: SerializedAnswer<ServicesStatus> }>();
  const runsJson = new WeakMap<RunViews, SerializedAnswer<{ runs: RunViews }>>();
  const noUrl = () => undefined;

  registerRoute(app, getStatus, async ({ query }) => {
    const page = {
      limit: query.limit ?? STATUS_PAGE.default,
      ...(query.after === undefined ? {} : { after: query.after }),
    };
    const status = await statuses.read(JSON.stringify([query.service, page.limit, page.after]), () =>
      serviceStatus(deps.store, noUrl, query.service, page),
    );
    const urls = status.services
      .flatMap((service) => service.stages.map((stage) => deps.stageUrl(service.name, stage.name) ?? ""))
      .join("\n");
    let kept = statusJson.get(status);
    if (kept?.urls !== urls) {
      kept = { urls, json: SerializedAnswer.of(withStageUrls(status, deps.stageUrl)) };
      statusJson.set(status, kept);
    }
    return kept.json;
  });

  registerRoute(app, listRuns, async ({ query }) => {
    const filter = {
      ...(query.service === undefined ? {} : { service: query.service }),
      ...(query.ship === undefined ? {} : { shipId: query.ship }),
      limit: query.limit ?? 200,
    };
    const runs = await runLists.read(JSON.stringify([filter.service, filter.shipId, filter.limit]), () =>
      listRunViews(deps.store, filter),
    );
    if (runs.some((run) => run.state === "running"))
      return { runs: runs.map((run) => ({ ...run, ...liveOf(run) })) };
    let json = runsJson.get(runs);
    if (json === undefined) {
      json = SerializedAnswer.of({ runs });
      runsJson.set(runs, json);
    }
    return json;
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
