/**
 * `GET /metrics`: the control plane's health in the Prometheus text format, read from the
 * database at scrape time. Each scrape reads once (store.metricsRows: grouped in SQL) and
 * fills a registry of its own, so two scrapes never share half-set values and every replica on
 * one database answers the same: nothing here counts in the process.
 */
import { Counter, Gauge, Histogram, Registry, type MetricType } from "prom-client";
import type { MetricsRows } from "../store/metrics-queries.js";
import type { ServiceRecord, Store } from "../store/store.js";
import { doraReport, type DoraReport } from "./dora.js";

/** Run durations, from a quick local ship to one that waited hours for a person */
export const RUN_DURATION_BUCKETS = [
  1,
  5,
  15,
  30,
  60,
  120,
  300,
  600,
  1_800,
  3_600,
  4 * 3_600,
  24 * 3_600,
] as const;
export const DORA_WINDOW_DAYS = 30;
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

const DAY_MS = 86_400_000;
/** The states of a run that has work left for the engine to claim (approval waits for a person) */
const QUEUED_STATES = ["queued", "running", "rolling-back"] as const;

export interface MetricsDependencies {
  store: Pick<Store, "metricsRows" | "listServices">;
}

/** Reads the database and renders the scrape. `now` is when the DORA window ends, and what ages are measured from. */
export async function scrapeMetrics(deps: MetricsDependencies, now: Date = new Date()): Promise<string> {
  const since = new Date(now.getTime() - DORA_WINDOW_DAYS * DAY_MS).toISOString();
  const [rows, services] = await Promise.all([
    deps.store.metricsRows({ since, aggregates: { durationBuckets: RUN_DURATION_BUCKETS } }),
    deps.store.listServices(),
  ]);
  const dora = doraReport(
    rows.deliveries,
    { since, until: now.toISOString(), bucket: "week", series: false },
    stagesOf(services),
  );
  return renderMetrics(rows, dora, now).metrics();
}

export function stagesOf(services: readonly ServiceRecord[]): { service: string; stage: string }[] {
  return services.flatMap((service) => service.stages.map((stage) => ({ service: service.name, stage })));
}

/** A registry holding one scrape's values */
export function renderMetrics(rows: MetricsRows, dora: DoraReport, now: Date): Registry {
  const registry = new Registry();
  const registers = [registry];
  const aggregates = rows.aggregates ?? {
    runs: [],
    durations: [],
    gates: [],
    scores: [],
    waitingApprovals: [],
    leaseTakeovers: 0,
  };

  const started = new Counter({
    name: "waybill_runs_started_total",
    help: "Runs that started, by service, stage and kind (ship, rollback, rightsize)",
    labelNames: ["service", "stage", "kind"] as const,
    registers,
  });
  const finished = new Counter({
    name: "waybill_runs_finished_total",
    help: "Runs that finished, by service, stage and result (succeeded or failed)",
    labelNames: ["service", "stage", "result"] as const,
    registers,
  });
  const queueDepth = new Gauge({
    name: "waybill_task_queue_depth",
    help: "Runs with work left for the engine, by state (queued, running, rolling-back)",
    labelNames: ["state"] as const,
    registers,
  });
  for (const state of QUEUED_STATES) queueDepth.set({ state }, 0);
  for (const row of aggregates.runs) {
    if (row.started > 0) started.inc({ service: row.service, stage: row.stage, kind: row.kind }, row.started);
    if (row.state === "succeeded" || row.state === "failed") {
      finished.inc({ service: row.service, stage: row.stage, result: row.state }, row.runs);
    }
    if ((QUEUED_STATES as readonly string[]).includes(row.state))
      queueDepth.inc({ state: row.state }, row.runs);
  }

  registry.registerMetric(
    new BucketedHistogram(
      "waybill_run_duration_seconds",
      "How long finished runs took, from start to finish, by stage",
      RUN_DURATION_BUCKETS,
      aggregates.durations,
    ),
  );

  const evaluations = new Counter({
    name: "waybill_gate_evaluations_total",
    help: "Quality gate evaluations, by service, stage and result (pass, warning, fail)",
    labelNames: ["service", "stage", "result"] as const,
    registers,
  });
  for (const row of aggregates.gates) {
    evaluations.inc({ service: row.service, stage: row.stage, result: row.result }, row.evaluations);
  }
  const score = new Gauge({
    name: "waybill_gate_score",
    help: "The score (0-100) of the stage's newest quality gate evaluation",
    labelNames: ["service", "stage"] as const,
    registers,
  });
  for (const row of aggregates.scores) score.set({ service: row.service, stage: row.stage }, row.score);

  const waiting = new Gauge({
    name: "waybill_approvals_waiting",
    help: "Runs waiting for a person's approval, by service and stage",
    labelNames: ["service", "stage"] as const,
    registers,
  });
  const waitSeconds = new Gauge({
    name: "waybill_approval_wait_seconds",
    help: "How long the oldest run waiting for approval has waited, by service and stage",
    labelNames: ["service", "stage"] as const,
    registers,
  });
  const oldestWait = new Map<string, number>();
  for (const row of aggregates.waitingApprovals) {
    const labels = { service: row.service, stage: row.stage };
    waiting.inc(labels, 1);
    if (row.waitingSince === null) continue;
    const age = Math.max(0, (now.getTime() - Date.parse(row.waitingSince)) / 1000);
    const key = JSON.stringify([row.service, row.stage]);
    const oldest = Math.max(age, oldestWait.get(key) ?? 0);
    oldestWait.set(key, oldest);
    waitSeconds.set(labels, oldest);
  }

  const takeovers = new Counter({
    name: "waybill_task_lease_takeovers_total",
    help: "Runs taken over after their lease expired (another replica's, or this control plane's before a crash)",
    registers,
  });
  takeovers.inc(aggregates.leaseTakeovers);

  const doraHelp = `over the last ${DORA_WINDOW_DAYS} days, by service and stage (DORA; see src/metrics/dora.ts)`;
  const frequency = doraGauge(
    registry,
    "waybill_dora_deployments_per_day",
    `Deployments per day ${doraHelp}`,
  );
  const leadTime = doraGauge(
    registry,
    "waybill_dora_lead_time_seconds",
    `Median lead time for changes, commit (else ship) to release, ${doraHelp}`,
  );
  const failureRatio = doraGauge(
    registry,
    "waybill_dora_change_failure_ratio",
    `Deployments that failed (rolled back) over deployments ${doraHelp}`,
  );
  const restore = doraGauge(
    registry,
    "waybill_dora_time_to_restore_seconds",
    `Median time from a failed deployment to the next good release ${doraHelp}`,
  );
  for (const stage of dora.stages) {
    const labels = { service: stage.service, stage: stage.stage };
    frequency.set(labels, stage.deploymentsPerDay);
    if (stage.leadTime.medianSeconds !== null) leadTime.set(labels, stage.leadTime.medianSeconds);
    if (stage.changeFailure.ratio !== null) failureRatio.set(labels, stage.changeFailure.ratio);
    if (stage.timeToRestore.medianSeconds !== null) restore.set(labels, stage.timeToRestore.medianSeconds);
  }
  return registry;
}

function doraGauge(registry: Registry, name: string, help: string): Gauge<"service" | "stage"> {
  return new Gauge({ name, help, labelNames: ["service", "stage"] as const, registers: [registry] });
}

interface HistogramValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A histogram whose buckets SQL already counted (store.metricsRows), so a scrape does not
 * observe every run again. prom-client's Histogram only counts observations; this one reports
 * the counts it is given, in the same exposition.
 */
class BucketedHistogram extends Histogram<"stage"> {
  private readonly exposition: HistogramValue[];

  constructor(
    private readonly metricName: string,
    private readonly metricHelp: string,
    bounds: readonly number[],
    rows: readonly { stage: string; bucket: number; runs: number; seconds: number }[],
  ) {
    super({ name: metricName, help: metricHelp, labelNames: ["stage"], buckets: [...bounds], registers: [] });
    const name = metricName;
    const stages = [...new Set(rows.map((row) => row.stage))].sort();
    this.exposition = stages.flatMap((stage) => {
      const mine = rows.filter((row) => row.stage === stage);
      const counts = Array.from({ length: bounds.length + 1 }, (_, index) =>
        mine.filter((row) => row.bucket === index).reduce((sum, row) => sum + row.runs, 0),
      );
      let cumulative = 0;
      const buckets = [...bounds, "+Inf" as const].map((le, index) => {
        cumulative += counts[index] ?? 0;
        return { metricName: `${name}_bucket`, labels: { le, stage }, value: cumulative };
      });
      const seconds = mine.reduce((sum, row) => sum + row.seconds, 0);
      return [
        ...buckets,
        { metricName: `${name}_sum`, labels: { stage }, value: seconds },
        { metricName: `${name}_count`, labels: { stage }, value: cumulative },
      ];
    });
  }

  /** What the registry renders (prom-client reads this in place of its own observations) */
  async getForPromString(): Promise<{
    name: string;
    help: string;
    type: "histogram";
    values: HistogramValue[];
    aggregator: "sum";
  }> {
    return Promise.resolve({
      name: this.metricName,
      help: this.metricHelp,
      type: "histogram",
      values: this.exposition,
      aggregator: "sum",
    });
  }

  override async get(): Promise<Awaited<ReturnType<Histogram<"stage">["get"]>>> {
    const own = await this.getForPromString();
    // prom-client declares `type` as an enum its own code fills with the text "histogram".
    return { ...own, type: own.type as unknown as MetricType, collect: () => undefined };
  }
}
