import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { freshDatabase, postgresAvailability, type TestDatabase } from "../testing/postgres.js";
import { newEvent, type NewEvent, type StoredEvent } from "./events.js";
import type { KyselyStore } from "./kysely-store.js";
import { openPostgresStore } from "./postgres-store.js";

const postgres = postgresAvailability();
const SBOM = "https://cyclonedx.org/bom";

/** An SBOM attestation whose inventory holds the given purls */
function sbom(service: string, digest: string, purls: string[]): NewEvent {
  const statement = { predicate: { components: purls.map((purl) => ({ purl })) } };
  return newEvent("attestation.recorded", `artifacts/${digest}/attestations`, {
    service,
    digest,
    predicateType: SBOM,
    stage: null,
    envelope: {
      payloadType: "application/vnd.in-toto+json",
      payload: Buffer.from(JSON.stringify(statement)).toString("base64"),
      signatures: [],
    },
  });
}

/**
 * What a ship appends (its service, artifact and SBOM, all on one service and digest, so every
 * append contends for the same rows) and, every third time, a run that is released.
 */
function shipEvents(writer: string, n: number): NewEvent[] {
  const service = "shop";
  const digest = "sha256:" + "ab".repeat(32);
  const runId = `r-${writer}-${n}`;
  const subject = `runs/${runId}`;
  const queued = { runId, shipId: `s-${writer}-${n}`, kind: "ship" as const, service, stage: "dev" };
  const events: NewEvent[] = [
    newEvent("service.registered", `services/${service}`, {
      name: service,
      dir: `/srv/${writer}`,
      stages: ["dev"],
    }),
    newEvent("artifact.recorded", `services/${service}/artifacts/${digest}`, {
      service,
      digest,
      version: `1.0.${n}`,
      path: `/artifacts/${writer}`,
      mountPath: ".",
      spec: { metadata: { name: service } },
    }),
    sbom(service, digest, [`pkg:npm/left-pad@1.${n}.0`, `pkg:npm/${writer}@1.0.0`]),
    newEvent("run.queued", subject, { ...queued, stageIndex: 0, digest, version: `1.0.${n}` }, runId),
  ];
  if (n % 3 === 0) {
    events.push(
      newEvent("run.started", subject, {}, runId),
      newEvent(
        "release.recorded",
        `services/${service}/stages/dev`,
        { service, stage: "dev", target: "local", digest, version: `1.0.${n}` },
        runId,
      ),
      newEvent("run.finished", subject, { state: "succeeded" }, runId),
    );
  }
  return events;
}

/** Follows the log by `afterSeq`, as the webhook dispatcher and the run stream do, until stopped */
function tail(store: KyselyStore): { stop(): Promise<StoredEvent[]> } {
  const seen: StoredEvent[] = [];
  let running = true;
  const following = (async () => {
    let cursor = 0;
    for (;;) {
      // Stopped before this read began: an empty answer now means everything was read.
      const last = !running;
      const batch = await store.events({ afterSeq: cursor, limit: 7 });
      seen.push(...batch);
      cursor = batch.at(-1)?.seq ?? cursor;
      if (batch.length > 0) continue;
      if (last) return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    async stop() {
      running = false;
      await following;
      return seen;
    },
  };
}

async function rows(url: string, statement: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statement)).rows as unknown[];
  } finally {
    await client.end();
  }
}

/** The projections an append writes, without generated ids (a rebuild numbers rows anew) */
async function projections(url: string): Promise<Record<string, unknown[]>> {
  return {
    services: await rows(url, "select * from services order by name"),
    artifacts: await rows(url, "select * from artifacts order by service, digest"),
    runs: await rows(url, "select * from runs order by queue_seq"),
    releases: await rows(
      url,
      "select service, stage, target, digest, version, run_id, released_at, replaced_at from releases order by id",
    ),
    attestations: await rows(
      url,
      "select seq, service, digest, predicate_type, stage, envelope, created_at from attestations order by seq",
    ),
    components: await rows(url, "select * from components order by digest, purl"),
  };
}

describe(
  "appends from several processes on one PostgreSQL database",
  { skip: !postgres.available && postgres.reason },
  () => {
    let database: TestDatabase;
    before(async () => {
      database = await freshDatabase();
    });
    after(async () => {
      await database.drop();
    });

    test("every reader tailing by afterSeq gets every event once, in commit order, and projections equal a rebuild", async () => {
      const stores = [await openPostgresStore(database.url), await openPostgresStore(database.url)];
      try {
        const readers = stores.map(tail);
        const appended: StoredEvent[][] = [];
        // Four writers on each store, every one appending while the others do.
        await Promise.all(
          stores.flatMap((store, s) =>
            [0, 1, 2, 3].map(async (w) => {
              for (let n = 1; n <= 15; n++) appended.push(await store.append(shipEvents(`w${s}${w}`, n)));
            }),
          ),
        );
        const seen = await Promise.all(readers.map((reader) => reader.stop()));

        const all = (await stores[0]!.events()).map((event) => event.seq);
        assert.equal(all.length, appended.flat().length);
        for (const events of seen) {
          // A reader that skipped an event (one committed after a higher seq it had read) misses it here.
          assert.deepEqual(
            events.map((event) => event.seq),
            all,
          );
        }
        for (const events of appended) {
          // An append's events are consecutive in the log, in the order given.
          const seqs = events.map((event) => event.seq);
          assert.deepEqual(
            seqs,
            seqs.map((_, i) => (seqs[0] ?? 0) + i),
          );
        }

        const projected = await projections(database.url);
        assert.equal(projected.runs?.length, 8 * 15);
        // Each run's queue position is its run.queued event's seq: no placeholder is left behind.
        const queuedSeqs = new Map(
          appended
            .flat()
            .flatMap((event) => (event.type.endsWith("run.queued") ? [[event.waybillrun, event.seq]] : [])),
        );
        for (const run of projected.runs as { id: string; queue_seq: number }[]) {
          assert.equal(run.queue_seq, queuedSeqs.get(run.id));
        }
        // The newest SBOM wins the inventory, and one release is live.
        assert.equal((projected.components ?? []).length, 2);
        assert.equal(
          (projected.releases as { replaced_at: string | null }[]).filter((r) => r.replaced_at === null)
            .length,
          1,
        );

        await stores[0]!.rebuildProjections();
        assert.deepEqual(await projections(database.url), projected);
      } finally {
        for (const store of stores) await store.close();
      }
    });
  },
);
