/** DORA's four keys as `GET /v1/dora` and `waybill dora` ask for them: read, then computed by dora.ts. */
import { NotFoundError, UserError } from "../errors.js";
import type { ServiceRecord, Store } from "../store/store.js";
import { doraReport, parseWindow, type Bucket, type DoraReport } from "./dora.js";
import { stagesOf } from "./prometheus.js";

export interface DoraQuery {
  service?: string;
  /** `30d`, `12h`, `4w` */
  since: string;
  bucket: Bucket;
}

export async function readDora(
  store: Pick<Store, "metricsRows" | "listServices" | "getService">,
  query: DoraQuery,
  now: Date = new Date(),
): Promise<DoraReport> {
  const windowMs = parseWindow(query.since);
  if (windowMs === undefined) {
    throw new UserError(
      `since: expected a window such as 12h, 30d or 4w (at most ten years), got "${query.since}"`,
    );
  }
  const services =
    query.service === undefined ? await store.listServices() : [await named(store, query.service)];
  const since = new Date(now.getTime() - windowMs).toISOString();
  const rows = await store.metricsRows({
    since,
    ...(query.service === undefined ? {} : { service: query.service }),
  });
  return doraReport(
    rows.deliveries,
    { since, until: now.toISOString(), bucket: query.bucket },
    stagesOf(services),
  );
}

async function named(store: Pick<Store, "getService">, name: string): Promise<ServiceRecord> {
  const service = await store.getService(name);
  if (service === undefined) throw new NotFoundError(`no service named "${name}"`);
  return service;
}
