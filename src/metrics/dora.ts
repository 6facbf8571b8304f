/**
 * DORA's four keys per service and stage over a window, from plain delivery records. Pure: no
 * clock, no I/O; the caller reads the records (store.metricsRows) and says when the window ends.
 *
 * Definitions (after DORA's, applied to one stage at a time):
 * - A **deployment** is a run of kind "ship" that released to the stage (its first release, when
 *   the stage has several targets) inside the window. Releases made by rollback runs restore
 *   service; they are not deployments of a change. A ship that failed before its release (a
 *   failed gate, a failed health check) is not one either: its version never took traffic, and
 *   stopping it there is the pipeline doing its job.
 * - **Deployment frequency**: deployments divided by the window's length in days.
 * - **Lead time for changes** of a deployment: from the commit time its artifact's SLSA
 *   provenance records, else from when its ship was made, to its release. The median over the
 *   window's deployments; how many started from each is reported beside it.
 * - A deployment **failed** when its own run failed after it had released (the run rolled
 *   itself back), or when the next release to the stage was made by a rollback run. A
 *   deployment replaced by another deployment did not fail: the fix went forward.
 *   **Change failure rate** is failed deployments over deployments.
 * - **Time to restore** a failed deployment: from its release to the next release to the stage
 *   that is good (a rollback's, or a deployment that did not fail itself), or to its own run's
 *   end when the run rolled itself back, whichever came first. The median over the failures
 *   restored by the window's end; the ones not restored yet are counted, not timed.
 *
 * Performance bands follow the 2023 Accelerate State of DevOps report, its elite, high and
 * medium values read as upper bounds and low as everything worse (the report's low cluster
 * overlaps medium in frequency and lead time): deployment frequency elite at least daily, high
 * at least weekly, medium at least monthly; lead time elite under a day, high under a week,
 * medium under a month; change failure rate elite at most 5%, high 10%, medium 15%; time to
 * restore elite under an hour, high under a day, medium under a week.
 */

export interface DeliveryRecord {
  service: string;
  stage: string;
  runId: string;
  /** "ship", "rollback" (and "rightsize", which never releases) */
  kind: string;
  /** The run's state: "failed" for a run that released and then failed */
  state: string | null;
  finishedAt: string | null;
  releasedAt: string;
  shippedAt: string | null;
  committedAt: string | null;
}

export type Band = "elite" | "high" | "medium" | "low";
export type Bucket = "day" | "week";

export interface DoraWindow {
  /** ISO 8601; the window holds releases at or after it */
  since: string;
  /** ISO 8601; the window's end, normally now */
  until: string;
  /** The series' step: days, or ISO weeks starting on Monday (UTC) */
  bucket: Bucket;
  /** Whether to compute the series at all (the Prometheus gauges need none); default true */
  series?: boolean;
}

export interface SeriesPoint {
  /** The bucket's start (UTC midnight, a Monday for weeks) */
  start: string;
  deployments: number;
  failures: number;
  leadTimeSeconds: number | null;
  timeToRestoreSeconds: number | null;
}

export interface StageDora {
  service: string;
  stage: string;
  deployments: number;
  deploymentsPerDay: number;
  leadTime: {
    medianSeconds: number | null;
    /** Deployments whose lead time started at the commit, and at the ship */
    fromCommit: number;
    fromShip: number;
  };
  changeFailure: { failed: number; ratio: number | null };
  timeToRestore: { medianSeconds: number | null; restored: number; unrestored: number };
  bands: {
    deploymentFrequency: Band;
    leadTime: Band | null;
    changeFailureRate: Band | null;
    timeToRestore: Band | null;
  };
  series: SeriesPoint[];
}

export interface DoraReport {
  since: string;
  until: string;
  days: number;
  bucket: Bucket;
  stages: StageDora[];
}

const DAY_MS = 86_400_000;
const HOUR_S = 3_600;
const DAY_S = 86_400;

interface Deployment {
  record: DeliveryRecord;
  releasedMs: number;
  leadTimeSeconds: number;
  fromCommit: boolean;
  failed: boolean;
  /** Seconds to restore, for a failed one restored by the window's end */
  restoreSeconds: number | null;
}

/**
 * The four keys for each stage that released in the window, and for each stage named in
 * `stages` (with no deployments, they still have a frequency: zero).
 */
export function doraReport(
  deliveries: readonly DeliveryRecord[],
  window: DoraWindow,
  stages: readonly { service: string; stage: string }[] = [],
): DoraReport {
  const sinceMs = Date.parse(window.since);
  const untilMs = Date.parse(window.until);
  if (Number.isNaN(sinceMs) || Number.isNaN(untilMs) || untilMs <= sinceMs) {
    throw new RangeError(`the window ${window.since} .. ${window.until} is empty or not a pair of times`);
  }
  const days = (untilMs - sinceMs) / DAY_MS;
  const byStage = new Map<string, { service: string; stage: string; timed: Timed[] }>();
  const entry = (service: string, stage: string) => {
    const key = `${service}\u0000${stage}`;
    let found = byStage.get(key);
    if (found === undefined) {
      found = { service, stage, timed: [] };
      byStage.set(key, found);
    }
    return found;
  };
  for (const { service, stage } of stages) entry(service, stage);
  for (const record of deliveries) {
    const releasedMs = Date.parse(record.releasedAt);
    if (releasedMs < sinceMs || releasedMs > untilMs) continue;
    entry(record.service, record.stage).timed.push({ record, releasedMs });
  }
  const result: StageDora[] = [];
  for (const { service, stage, timed } of byStage.values()) {
    const dora = stageDora(service, stage, timed, untilMs, days);
    dora.series = window.series === false ? [] : series(dora.deployed, sinceMs, untilMs, window.bucket);
    const { deployed: _deployed, ...reported } = dora;
    result.push(reported);
  }
  result.sort((a, b) => compare(a.service, b.service) || compare(a.stage, b.stage));
  return {
    since: new Date(sinceMs).toISOString(),
    until: new Date(untilMs).toISOString(),
    days,
    bucket: window.bucket,
    stages: result,
  };
}

interface Timed {
  record: DeliveryRecord;
  releasedMs: number;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function stageDora(
  service: string,
  stage: string,
  timed: Timed[],
  untilMs: number,
  days: number,
): StageDora & { deployed: Deployment[] } {
  const ordered = timed.sort(
    (a, b) => a.releasedMs - b.releasedMs || compare(a.record.runId, b.record.runId),
  );
  const deployments: Deployment[] = [];
  ordered.forEach(({ record, releasedMs }, index) => {
    if (record.kind === "rollback") return;
    const startedAt = record.committedAt ?? record.shippedAt;
    const next = ordered[index + 1]?.record;
    deployments.push({
      record,
      releasedMs,
      leadTimeSeconds: startedAt === null ? 0 : Math.max(0, (releasedMs - Date.parse(startedAt)) / 1000),
      fromCommit: record.committedAt !== null,
      failed: record.state === "failed" || next?.kind === "rollback",
      restoreSeconds: null,
    });
  });
  const failedRuns = new Set(deployments.filter((d) => d.failed).map((d) => d.record.runId));
  for (const deployment of deployments) {
    if (!deployment.failed) continue;
    const candidates: number[] = [];
    const good = ordered.find(
      ({ record, releasedMs }) => releasedMs > deployment.releasedMs && !failedRuns.has(record.runId),
    );
    if (good !== undefined) candidates.push(good.releasedMs);
    const { state, finishedAt } = deployment.record;
    if (state === "failed" && finishedAt !== null) candidates.push(Date.parse(finishedAt));
    const restoredMs = Math.min(...candidates.filter((ms) => ms <= untilMs));
    if (Number.isFinite(restoredMs))
      deployment.restoreSeconds = Math.max(0, (restoredMs - deployment.releasedMs) / 1000);
  }

  const failures = deployments.filter((d) => d.failed);
  const restored = failures.flatMap((d) => (d.restoreSeconds === null ? [] : [d.restoreSeconds]));
  const leadTime = median(deployments.map((d) => d.leadTimeSeconds));
  const ratio = deployments.length === 0 ? null : failures.length / deployments.length;
  const timeToRestore = median(restored);
  const perDay = deployments.length / days;
  return {
    service,
    stage,
    deployments: deployments.length,
    deploymentsPerDay: perDay,
    leadTime: {
      medianSeconds: leadTime,
      fromCommit: deployments.filter((d) => d.fromCommit).length,
      fromShip: deployments.filter((d) => !d.fromCommit).length,
    },
    changeFailure: { failed: failures.length, ratio },
    timeToRestore: {
      medianSeconds: timeToRestore,
      restored: restored.length,
      unrestored: failures.length - restored.length,
    },
    bands: {
      deploymentFrequency: frequencyBand(perDay),
      leadTime: leadTime === null ? null : leadTimeBand(leadTime),
      changeFailureRate: ratio === null ? null : failureRateBand(ratio),
      timeToRestore: timeToRestore === null ? null : restoreBand(timeToRestore),
    },
    series: [],
    deployed: deployments,
  };
}

function series(deployments: Deployment[], sinceMs: number, untilMs: number, bucket: Bucket): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  for (let start = bucketStart(sinceMs, bucket); start < untilMs; start = nextBucket(start, bucket)) {
    const end = nextBucket(start, bucket);
    const inside = deployments.filter((d) => d.releasedMs >= start && d.releasedMs < end);
    const failed = inside.filter((d) => d.failed);
    points.push({
      start: new Date(start).toISOString(),
      deployments: inside.length,
      failures: failed.length,
      leadTimeSeconds: median(inside.map((d) => d.leadTimeSeconds)),
      timeToRestoreSeconds: median(
        failed.flatMap((d) => (d.restoreSeconds === null ? [] : [d.restoreSeconds])),
      ),
    });
  }
  return points;
}

/** UTC midnight of the day, or of the Monday of the week, that holds `ms` */
export function bucketStart(ms: number, bucket: Bucket): number {
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  if (bucket === "day") return day;
  const weekday = (new Date(day).getUTCDay() + 6) % 7;
  return day - weekday * DAY_MS;
}

function nextBucket(start: number, bucket: Bucket): number {
  return start + (bucket === "day" ? DAY_MS : 7 * DAY_MS);
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? null)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function frequencyBand(perDay: number): Band {
  if (perDay >= 1) return "elite";
  if (perDay >= 1 / 7) return "high";
  if (perDay >= 1 / 30) return "medium";
  return "low";
}

export function leadTimeBand(seconds: number): Band {
  if (seconds < DAY_S) return "elite";
  if (seconds < 7 * DAY_S) return "high";
  if (seconds < 30 * DAY_S) return "medium";
  return "low";
}

export function failureRateBand(ratio: number): Band {
  if (ratio <= 0.05) return "elite";
  if (ratio <= 0.1) return "high";
  if (ratio <= 0.15) return "medium";
  return "low";
}

export function restoreBand(seconds: number): Band {
  if (seconds < HOUR_S) return "elite";
  if (seconds < DAY_S) return "high";
  if (seconds < 7 * DAY_S) return "medium";
  return "low";
}

/** `30d`, `12h`, `2w` as milliseconds; undefined for anything else (at most ten years) */
export function parseWindow(text: string): number | undefined {
  const match = /^([1-9]\d{0,4})([hdw])$/.exec(text);
  if (!match) return undefined;
  const unit = { h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS }[match[2] as "h" | "d" | "w"];
  const ms = Number(match[1]) * unit;
  return ms <= 3_660 * DAY_MS ? ms : undefined;
}
