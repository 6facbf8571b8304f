// Runs every compiled *.test.js under dist/ (or $WAYBILL_TEST_DIST) with Node's test runner. Node 20 and Node 22+
// read test path arguments differently (directories versus globs), so the list is explicit.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith(".test.js") ? [path] : [];
  });
}

const filter = process.argv.slice(2);
const distDir = process.env.WAYBILL_TEST_DIST ?? "dist";
const files = findTests(distDir)
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort();
// End-to-end files put real load on real services and judge latency: they run one at a time,
// after the rest, so they do not measure each other.
const endToEnd = files.filter((file) => file.endsWith(".e2e.test.js"));
const units = files.filter((file) => !endToEnd.includes(file));
let failed = false;
for (const [batch, concurrency] of [
  [units, 2],
  [endToEnd, 1],
]) {
  if (batch.length === 0) continue;
  const result = spawnSync(
    process.execPath,
    ["--test", `--test-concurrency=${concurrency}`, "--test-timeout=300000", ...batch],
    { stdio: "inherit" },
  );
  failed ||= result.status !== 0;
}
process.exit(failed ? 1 : 0);
