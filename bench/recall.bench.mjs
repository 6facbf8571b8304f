// Recall over a large inventory: 10,000 artifacts × 1,000 components each (10 million rows),
// every artifact released once. Times `waybill recall pkg:npm/lodash@<4.17.21` as the control
// plane runs it (the indexed query plus the ecosystem's version order), median of 21 runs.
// Usage: node bench/recall.bench.mjs [dist-dir]   (ARTIFACTS, COMPONENTS to change the size)
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const dist = resolve(process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const { openSqliteStore } = await import(pathToFileURL(join(dist, "store/sqlite-store.js")).href);
const { parseRecallQuery, versionMatches } = await import(
  pathToFileURL(join(dist, "evidence/recall/query.js")).href
);

const artifacts = Number(process.env.ARTIFACTS ?? 10_000);
const componentsPerArtifact = Number(process.env.COMPONENTS ?? 1_000);
const distinctPackages = 5_000;
const dir = mkdtempSync(join(tmpdir(), "waybill-recall-bench-"));
const file = join(dir, "waybill.db");

const store = await openSqliteStore(file);
await store.close();
const db = new Database(file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = OFF");
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const started = Date.now();
const insertComponent = db.prepare(
  "insert into components (digest, service, ecosystem, name, version, purl, hashes) values (?, ?, 'npm', ?, ?, ?, '[]')",
);
const insertRelease = db.prepare(
  "insert into releases (service, stage, target, digest, version, run_id, released_at, replaced_at) values (?, 'production', 'local', ?, ?, ?, ?, ?)",
);
db.transaction(() => {
  for (let a = 0; a < artifacts; a++) {
    const digest = `sha256:${a.toString(16).padStart(64, "0")}`;
    const service = `svc-${a % 200}`;
    const chosen = new Set();
    if (random() < 0.2) chosen.add(0);
    while (chosen.size < componentsPerArtifact) chosen.add(1 + Math.floor(random() * (distinctPackages - 1)));
    for (const p of chosen) {
      const name = p === 0 ? "lodash" : `pkg-${p}`;
      const version =
        p === 0 ? `4.17.${15 + Math.floor(random() * 7)}` : `1.${p % 7}.${Math.floor(random() * 5)}`;
      insertComponent.run(digest, service, name, version, `pkg:npm/${name}@${version}`);
    }
    const released = new Date(Date.UTC(2026, 0, 1) + a * 60_000).toISOString();
    insertRelease.run(service, digest, `1.0.${a}`, `r-${a}`, released, a < artifacts - 200 ? released : null);
  }
})();
db.close();
const buildSeconds = (Date.now() - started) / 1000;

const query = parseRecallQuery("pkg:npm/lodash@<4.17.21");
const reopened = await openSqliteStore(file);
const timings = [];
let matches = 0;
for (let run = 0; run < 21; run++) {
  const t0 = process.hrtime.bigint();
  const found = (await reopened.deployedComponents(query.ecosystem, query.name)).filter((c) =>
    versionMatches(c.ecosystem, c.version, query.constraints),
  );
  timings.push(Number(process.hrtime.bigint() - t0) / 1e6);
  matches = found.length;
}
await reopened.close();
rmSync(dir, { recursive: true, force: true });
timings.sort((a, b) => a - b);
const median = timings[Math.floor(timings.length / 2)];
console.error(
  `built ${artifacts} artifacts × ${componentsPerArtifact} components in ${buildSeconds.toFixed(1)} s`,
);
console.log(
  `recall: median ${median.toFixed(1)} ms over ${artifacts}×${componentsPerArtifact} inventory (${matches} deployments found); goal < 50 ms, ratio to goal ${(median / 50).toFixed(2)}`,
);
