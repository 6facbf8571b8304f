/**
 * Runs as the API shows them: the public fields of a run, what a queued run waits behind, and
 * where each service's stages stand. Reads only.
 */
import { NotFoundError, UserError } from "../errors.js";
import type { RunRecord, Store } from "../store/store.js";
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
  // What queued runs wait behind costs one more query, only when the page has one.
  const open = runs.some((run) => run.state === "queued")
    ? await store.listRuns({ states: ["queued", "running", "waiting-approval", "rolling-back"] })
    : [];
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

/** Each service's stages (one service, when named), as `waybill status` shows them */
export async function serviceStatus(
  store: Store,
  stageUrl: (service: string, stage: string) => string | undefined,
  service?: string,
): Promise<{ services: { name: string; stages: StageStatus[] }[] }> {
  const services = (await store.listServices()).filter((s) => service === undefined || s.name === service);
  if (service !== undefined && services.length === 0)
    throw new NotFoundError(`no service named "${service}"`);
  return {
    services: await Promise.all(
      services.map(async (s) => {
        const runs = await store.listRuns({ service: s.name });
        const releases = await store.currentReleases(s.name);
        return {
          name: s.name,
          stages: s.stages.map((stage) =>
            stageStatus(stage, runs, releases, stageUrl(s.name, stage) ?? null),
          ),
        };
      }),
    ),
  };
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
