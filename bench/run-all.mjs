// Runs every bench/*.bench.mjs in turn (`npm run bench`) and fails if any failed. Benches import the
// compiled code: build first (npm run build), or name another build folder as the argument
// (`npm run bench -- dist-x`, passed on to every bench) or in WAYBILL_BENCH_DIST.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = dirname(fileURLToPath(import.meta.url));
const benches = readdirSync(benchDir)
  .filter((name) => name.endsWith(".bench.mjs"))
  .sort();
const failed = [];
for (const bench of benches) {
  process.stderr.write(`\n== ${bench}\n`);
  const result = spawnSync(process.execPath, [join(benchDir, bench), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  if (result.status !== 0) failed.push(bench);
}
if (failed.length > 0) {
  process.stderr.write(`\nfailed: ${failed.join(", ")}\n`);
  process.exit(1);
}
