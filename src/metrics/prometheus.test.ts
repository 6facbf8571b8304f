import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { buildProvenancePredicate } from "../evidence/attestation/provenance.js";
import { PREDICATE_TYPES } from "../evidence/attestation/predicate-types.js";
import { EvidenceService } from "../evidence/evidence-service.js";
import { newEvent, type GateResult, type NewEvent, type RunKind } from "../store/events.js";
import { LEASE_TAKEOVER_EVENT_TYPE } from "../store/metrics-queries.js";
import { openPostgresStore } from "../store/postgres-store.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import type { Store } from "../store/store.js";
import { freshDatabase, postgresAvailability } from "../testing/postgres.js";
import { scrapeMetrics } from "./prometheus.js";

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "waybill-metrics-"));
  dirs.push(dir);
  return dir;
}

const NOW = new Date("2026-12-04T12:00:00.000Z");
const DIGEST = {
  a: `sha256:${"a".repeat(64)}`,
  b: `sha256:${"b".repeat(64)}`,
  d: `sha256:${"d".repeat(64)}`,
};

/** Events as the engine appends them, each with the time it happened in the recorded history */
class History {
  readonly events: { time: string; event: NewEvent }[] = [];

  at(time: string, ...events: NewEvent[]): this {
    for (const event of events) this.events.push({ time: `2026-${time}Z`, event });
    return this;
  }

  queued(time: string, runId: string, shipId: string, kind: RunKind, stage: string, digest: string): this {
    return this.at(
      time,
      newEvent(
        "run.queued",
        `runs/${runId}`,
        {
          runId,
          shipId,
          kind,
          service: "cart",
          stage,
          stageIndex: stage === "prod" ? 1 : 0,
          digest,
          version: digest.slice(7, 12),
        },
        runId,
      ),
    );
  }

  started(time: string, runId: string): this {
    return this.at(time, newEvent("run.started", `runs/${runId}`, {}, runId));
  }

  evaluated(
    time: string,
    runId: string,
    stage: string,
    digest: string,
    result: GateResult,
    score: number,
  ): this {
    return this.at(
      time,
      newEvent(
        "evaluation.recorded",
        `runs/${runId}`,
        {
          service: "cart",
          stage,
          digest,
          version: digest.slice(7, 12),
          result,
          score,
          values: {},
          noValueReasons: {},
          evaluation: {},
          sloDigest: null,
          baseline: [],
          window: null,
          latencySamplesMs: [],
        },
        runId,
      ),
    );
  }

  released(time: string, runId: string, stage: string, digest: string): this {
    return this.at(
      time,
      newEvent(
        "release.recorded",
        `services/cart/stages/${stage}`,
        { service: "cart", stage, target: "local", digest, version: digest.slice(7, 12) },
        runId,
      ),
    );
  }

  finished(time: string, runId: string, state: "succeeded" | "failed"): this {
    return this.at(time, newEvent("run.finished", `runs/${runId}`, { state }, runId));
  }
}

/**
 * cart (staging, prod) over the 30 days before NOW, with the answers worked out by hand:
 * - ship A (provenance: committed 11-10 08:00): staging a1 590 s, pass 95, released 09:10
 *   (lead 1h10m); prod a2 2990 s, pass 90, released 10:00 (lead 2h).
 * - ship B (no provenance; first run queued 11-20 10:00): staging b1 1790 s, warning 70,
 *   released 10:30 (lead 30m); prod b2 1790 s, pass 80, released 11:00 (lead 1h).
 * - rollback c1 in prod, 290 s, released 12:05: B failed in prod, restored in 1h5m.
 * - ship D: staging d1 350 s, gate fail 20, rolled back before release: finished failed.
 * - ship E: staging e1 waits for approval since 11:40 (20 min at NOW); f1 is queued.
 * - two lease takeovers.
 */
function recordedHistory(evidence: EvidenceService): History {
  const provenance = buildProvenancePredicate({
    service: "cart",
    command: "npm run build",
    source: {
      repository: "https://example.com/cart.git",
      commit: "0123456789abcdef0123456789abcdef01234567",
      committedAt: "2026-11-10T09:00:00+01:00",
      dirty: false,
      signedCommit: false,
    },
    lockfiles: [],
    invocationId: "sA",
    startedOn: "2026-11-10T08:50:00Z",
    finishedOn: "2026-11-10T08:55:00Z",
  });
  const takeover = {
    type: LEASE_TAKEOVER_EVENT_TYPE.slice("dev.waybill.".length),
    subject: "runs/b2",
    run: "b2",
    data: {},
  };
  return new History()
    .at(
      "01-01T00:00:00",
      newEvent("service.registered", "services/cart", {
        name: "cart",
        dir: "/srv/cart",
        stages: ["staging", "prod"],
      }),
    )
    .at(
      "11-10T08:56:00",
      newEvent("attestation.recorded", `artifacts/${DIGEST.a}/attestations`, {
        service: "cart",
        digest: DIGEST.a,
        predicateType: PREDICATE_TYPES.provenance,
        stage: null,
        envelope: evidence.sign(PREDICATE_TYPES.provenance, provenance, { name: "cart", digest: DIGEST.a }),
      }),
    )
    .queued("11-10T09:00:00", "a1", "sA", "ship", "staging", DIGEST.a)
    .started("11-10T09:00:10", "a1")
    .evaluated("11-10T09:05:00", "a1", "staging", DIGEST.a, "pass", 95)
    .released("11-10T09:10:00", "a1", "staging", DIGEST.a)
    .finished("11-10T09:10:00", "a1", "succeeded")
    .queued("11-10T09:10:00", "a2", "sA", "ship", "prod", DIGEST.a)
    .started("11-10T09:10:10", "a2")
    .evaluated("11-10T09:40:00", "a2", "prod", DIGEST.a, "pass", 90)
    .released("11-10T10:00:00", "a2", "prod", DIGEST.a)
    .finished("11-10T10:00:00", "a2", "succeeded")
    .queued("11-20T10:00:00", "b1", "sB", "ship", "staging", DIGEST.b)
    .started("11-20T10:00:10", "b1")
    .evaluated("11-20T10:20:00", "b1", "staging", DIGEST.b, "warning", 70)
    .released("11-20T10:30:00", "b1", "staging", DIGEST.b)
    .finished("11-20T10:30:00", "b1", "succeeded")
    .queued("11-20T10:30:00", "b2", "sB", "ship", "prod", DIGEST.b)
    .started("11-20T10:30:10", "b2")
    .evaluated("11-20T10:40:00", "b2", "prod", DIGEST.b, "pass", 80)
    .released("11-20T11:00:00", "b2", "prod", DIGEST.b)
    .finished("11-20T11:00:00", "b2", "succeeded")
    .at("11-20T11:30:00", takeover as unknown as NewEvent, takeover as unknown as NewEvent)
    .queued("11-20T12:00:00", "c1", "sC", "rollback", "prod", DIGEST.a)
    .started("11-20T12:00:10", "c1")
    .released("11-20T12:05:00", "c1", "prod", DIGEST.a)
    .finished("11-20T12:05:00", "c1", "succeeded")
    .queued("12-04T11:00:00", "d1", "sD", "ship", "staging", DIGEST.d)
    .started("12-04T11:00:10", "d1")
    .evaluated("12-04T11:05:00", "d1", "staging", DIGEST.d, "fail", 20)
    .at(
      "12-04T11:05:30",
      newEvent("task.failed", "runs/d1", { task: "approve", reason: "the quality gate failed" }, "d1"),
      newEvent("run.rolling-back", "runs/d1", { reason: "approve: the quality gate failed" }, "d1"),
    )
    .finished("12-04T11:06:00", "d1", "failed")
    .queued("12-04T11:30:00", "e1", "sE", "ship", "staging", DIGEST.b)
    .started("12-04T11:30:00", "e1")
    .at(
      "12-04T11:40:00",
      newEvent("run.waiting-approval", "runs/e1", { result: "pass", deadline: "2026-12-05T11:40:00Z" }, "e1"),
    )
    .queued("12-04T11:50:00", "f1", "sF", "ship", "staging", DIGEST.b);
}

/** Appends the history as the engine would, then gives each event its recorded time and folds the log again. */
async function fill(
  store: Store,
  history: History,
  setTime: (seq: number, time: string) => Promise<void>,
): Promise<void> {
  for (const { time, event } of history.events) {
    const [stored] = await store.append([event]);
    assert.ok(stored);
    await setTime(stored.seq, time);
  }
  await store.rebuildProjections();
}

/** `name{labels}` → value, labels in sorted order so the test need not know the exposition's */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels = [...(match[2] ?? "").matchAll(/([a-z_]+)="([^"]*)"/g)]
      .map(([, name, value]) => `${name}=${value}`)
      .sort();
    found.set(`${match[1]}{${labels.join(",")}}`, Number(match[3]));
  }
  return found;
}

const HOUR = 3_600;
const expected: [string, number][] = [
  ["waybill_runs_started_total{kind=ship,service=cart,stage=staging}", 4],
  ["waybill_runs_started_total{kind=ship,service=cart,stage=prod}", 2],
  ["waybill_runs_started_total{kind=rollback,service=cart,stage=prod}", 1],
  ["waybill_runs_finished_total{result=succeeded,service=cart,stage=staging}", 2],
  ["waybill_runs_finished_total{result=failed,service=cart,stage=staging}", 1],
  ["waybill_runs_finished_total{result=succeeded,service=cart,stage=prod}", 3],
  ["waybill_run_duration_seconds_bucket{le=300,stage=staging}", 0],
  ["waybill_run_duration_seconds_bucket{le=600,stage=staging}", 2],
  ["waybill_run_duration_seconds_bucket{le=1800,stage=staging}", 3],
  ["waybill_run_duration_seconds_bucket{le=+Inf,stage=staging}", 3],
  ["waybill_run_duration_seconds_count{stage=staging}", 3],
  ["waybill_run_duration_seconds_sum{stage=staging}", 590 + 1790 + 350],
  ["waybill_run_duration_seconds_bucket{le=300,stage=prod}", 1],
  ["waybill_run_duration_seconds_bucket{le=600,stage=prod}", 1],
  ["waybill_run_duration_seconds_bucket{le=1800,stage=prod}", 2],
  ["waybill_run_duration_seconds_bucket{le=3600,stage=prod}", 3],
  ["waybill_run_duration_seconds_sum{stage=prod}", 2990 + 1790 + 290],
  ["waybill_gate_evaluations_total{result=pass,service=cart,stage=staging}", 1],
  ["waybill_gate_evaluations_total{result=warning,service=cart,stage=staging}", 1],
  ["waybill_gate_evaluations_total{result=fail,service=cart,stage=staging}", 1],
  ["waybill_gate_evaluations_total{result=pass,service=cart,stage=prod}", 2],
  ["waybill_gate_score{service=cart,stage=staging}", 20],
  ["waybill_gate_score{service=cart,stage=prod}", 80],
  ["waybill_approvals_waiting{service=cart,stage=staging}", 1],
  ["waybill_approval_wait_seconds{service=cart,stage=staging}", 20 * 60],
  ["waybill_task_queue_depth{state=queued}", 1],
  ["waybill_task_queue_depth{state=running}", 0],
  ["waybill_task_queue_depth{state=rolling-back}", 0],
  ["waybill_task_lease_takeovers_total{}", 2],
  ["waybill_dora_deployments_per_day{service=cart,stage=prod}", 2 / 30],
  ["waybill_dora_deployments_per_day{service=cart,stage=staging}", 2 / 30],
  ["waybill_dora_lead_time_seconds{service=cart,stage=prod}", (2 * HOUR + 1 * HOUR) / 2],
  ["waybill_dora_lead_time_seconds{service=cart,stage=staging}", (70 * 60 + 30 * 60) / 2],
  ["waybill_dora_change_failure_ratio{service=cart,stage=prod}", 0.5],
  ["waybill_dora_change_failure_ratio{service=cart,stage=staging}", 0],
  ["waybill_dora_time_to_restore_seconds{service=cart,stage=prod}", 65 * 60],
];

const postgres = postgresAvailability();
const backends = [
  {
    name: "sqlite",
    skip: false as const,
    async open(): Promise<{ store: Store; setTime: (seq: number, time: string) => Promise<void> }> {
      const file = join(tempDir(), "waybill.db");
      const store = await openSqliteStore(file);
      const database = new Database(file);
      const update = database.prepare("update events set time = ? where seq = ?");
      cleanups.push(async () => {
        database.close();
        await store.close();
      });
      return { store, setTime: async (seq, time) => void update.run(time, seq) };
    },
  },
  {
    name: "postgres",
    skip: postgres.available ? (false as const) : postgres.reason,
    async open(): Promise<{ store: Store; setTime: (seq: number, time: string) => Promise<void> }> {
      const database = await freshDatabase();
      const store = await openPostgresStore(database.url);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      cleanups.push(async () => {
        await client.end();
        await store.close();
        await database.drop();
      });
      return {
        store,
        setTime: async (seq, time) =>
          void (await client.query("update events set time = $1 where seq = $2", [time, seq])),
      };
    },
  },
];

for (const backend of backends) {
  describe(`GET /metrics's text on ${backend.name}, for a recorded history`, { skip: backend.skip }, () => {
    let text = "";

    test("scrapes the store", async () => {
      const { store, setTime } = await backend.open();
      await fill(store, recordedHistory(EvidenceService.open(tempDir())), setTime);
      text = await scrapeMetrics({ store }, NOW);
    });

    for (const [series, value] of expected) {
      test(`${series} is ${Number(value.toFixed(6))}`, () => {
        const found = samples(text).get(series);
        assert.ok(found !== undefined, `${series} is missing from:\n${text}`);
        assert.ok(Math.abs(found - value) < 1e-3, `${series}: ${found}, not ${value}`);
      });
    }

    test("has no series for a stage without a restore, or without evaluations", () => {
      const names = [...samples(text).keys()];
      assert.equal(names.includes("waybill_dora_time_to_restore_seconds{service=cart,stage=staging}"), false);
      assert.equal(names.filter((name) => name.startsWith("waybill_gate_score")).length, 2);
    });

    test("is Prometheus text that promtool accepts", () => {
      const output = execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      assert.equal(output.trim(), "");
    });
  });
}
