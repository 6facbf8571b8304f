/**
 * Runs as the API shows them: the public fields of a run, what a queued run waits behind, and
 * where each service's stages stand. Reads only.
 */
import { NotFoundError, UserError } from "../errors.js";
import { OPEN_RUN_STATES } from "../store/status-queries.js";
import type { RunRecord, ServicePage, ServiceRecord, Store } from "../store/store.js";
import { stageStatus, type StageStatus } from "./status.js";

export function publicRun(run: RunRecord) {
  return {
    id: run.id,
    service: run.service,
    stage: run.stage,
    version: run.version,
    digest: run.digest,
    kind: run.kind,
    state: run.state,
    result: run.result,
    task: run.task,
    reason: run.reason,
    shipId: run.shipId,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}

/**
 * What a queued run waits for: the run its stage is busy with, else the one queued before it.
 * The CLI names it, with how to decide it when it waits for a person.
 */
export function blockerOf(
  run: RunRecord,
  open: RunRecord[],
): { waitingFor?: { id: string; state: string; version: string } } {
  if (run.state !== "queued") return {};
  // Open runs come oldest first: the ones before this run in the list were queued before it.
  const before = open.slice(
    0,
    open.findIndex((other) => other.id === run.id),
  );
  const sameStage = before.filter((other) => other.service === run.service && other.stage === run.stage);
  const blocker = sameStage.find((other) => other.state !== "queued") ?? sameStage.at(-1);
  return blocker === undefined
    ? {}
    : { waitingFor: { id: blocker.id, state: blocker.state, version: blocker.version } };
}

/** Runs oldest first, each queued one with the run it waits behind */
export async function listRunViews(
  store: Store,
  filter: { service?: string; shipId?: string; limit: number },
): Promise<(ReturnType<typeof publicRun> & ReturnType<typeof blockerOf>)[]> {
  const runs = await store.listRuns(filter);
  // What queued runs wait behind costs one more query, only when the page has one; a run waits
  // only behind runs of its own service, so only the services of the page's queued runs are read.
  const waiting = [...new Set(runs.filter((run) => run.state === "queued").map((run) => run.service))];
  const open =
    waiting.length > 0 ? await store.listRuns({ services: waiting, states: [...OPEN_RUN_STATES] }) : [];
  return runs.map((run) => ({ ...publicRun(run), ...blockerOf(run, open) }));
}

export async function findRun(store: Store, id: string): Promise<RunRecord> {
  const run = await store.getRun(id);
  if (run === undefined) throw new NotFoundError(`no run with id "${id}"`);
  return run;
}

export async function waitingRun(store: Store, id: string): Promise<RunRecord> {
  const run = await findRun(store, id);
  if (run.state !== "waiting-approval") {
    throw new UserError(`run ${id} is ${run.state}, not waiting for approval`, 2, 409);
  }
  return run;
}

export interface ServicesStatus {
  services: { name: string; stages: StageStatus[] }[];
  /** The cursor of the next page, null on the last */
  next: string | null;
}

/**
 * Each service's stages (one service, when named; else a page of services in name order, every
 * one without a limit), as `waybill status` shows them, with the cursor of the next page (null on
 * the last). The runs and releases of the page are read at once (store.statusRows), then grouped here.
 */
export async function serviceStatus(
  store: Store,
  stageUrl: (service: string, stage: string) => string | undefined,
  service?: string,
  page: ServicePage = {},
): Promise<ServicesStatus> {
  let services: ServiceRecord[];
  let next: string | null = null;
  if (service !== undefined) {
    const named = await store.getService(service);
    if (named === undefined) throw new NotFoundError(`no service named "${service}"`);
    services = [named];
  } else if (page.limit === undefined) {
    services = await store.listServices(page);
  } else {
    // One more than the page tells whether another page follows.
    services = await store.listServices({ ...page, limit: page.limit + 1 });
    if (services.length > page.limit) {
      services = services.slice(0, page.limit);
      next = services.at(-1)?.name ?? null;
    }
  }
  const rows = await store.statusRows(
    service ??
      (page.limit === undefined && page.after === undefined ? undefined : services.map((s) => s.name)),
  );
  // Open runs first, in queue order, then each stage's last finished one: stageStatus reads the
  // first active run, the queued ones in order, and the last finished one.
  const runsOf = groupBy([...rows.open, ...rows.lastFinished], (run) => run.service);
  const releasesOf = groupBy(rows.releases, (release) => release.service);
  return {
    services: services.map((s) => {
      const runs = runsOf.get(s.name) ?? [];
      const releases = releasesOf.get(s.name) ?? [];
      return {
        name: s.name,
        stages: s.stages.map((stage) => stageStatus(stage, runs, releases, stageUrl(s.name, stage) ?? null)),
      };
    }),
    next,
  };
}

/** The status with each stage's URL as `stageUrl` says now; the status itself is left as it was */
export function withStageUrls(
  status: ServicesStatus,
  stageUrl: (service: string, stage: string) => string | undefined,
): ServicesStatus {
  return {
    services: status.services.map((service) => ({
      name: service.name,
      stages: service.stages.map((stage) => ({ ...stage, url: stageUrl(service.name, stage.name) ?? null })),
    })),
    next: status.next,
  };
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group === undefined) groups.set(key(item), [item]);
    else group.push(item);
  }
  return groups;
}

/** The service a request names, or the only one there is */
export async function serviceFor(store: Store, named: string | undefined): Promise<string> {
  const services = await store.listServices();
  if (named !== undefined) {
    if (!services.some((service) => service.name === named))
      throw new NotFoundError(`no service named "${named}"`);
    return named;
  }
  const [only, ...others] = services;
  if (only === undefined) throw new NotFoundError("no service has been shipped yet");
  if (others.length > 0) throw new UserError(`name the service: there are ${services.length} (--service)`);
  return only.name;
}
