// Runs every compiled *.test.js under dist/ (or $WAYBILL_TEST_DIST) with Node's test runner. Node 20 and Node 22+
// read test path arguments differently (directories versus globs), so the list is explicit.
//
// `--stress[=N]` keeps N cores busy (default 1) with CPU hogs for the whole run, to prove that the tests
// decide on events rather than on elapsed time: a busy machine must not fail them.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith(".test.js") ? [path] : [];
  });
}

const args = process.argv.slice(2);
const stressArg = args.find((arg) => arg === "--stress" || arg.startsWith("--stress="));
const hogCount = stressArg === undefined ? 0 : Number(stressArg.split("=")[1] ?? 1);
if (!Number.isInteger(hogCount) || hogCount < 0 || hogCount > 64) {
  console.error(`--stress takes a number of cores to keep busy, from 0 to 64; got "${stressArg}"`);
  process.exit(2);
}
const filter = args.filter((arg) => arg !== stressArg);
const distDir = process.env.WAYBILL_TEST_DIST ?? "dist";
const files = findTests(distDir)
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort();

// Each hog spins until this runner exits; the pipe closing on its stdin is what stops it.
const hogs = Array.from({ length: hogCount }, () =>
  spawn(
    process.execPath,
    [
      "-e",
      "process.stdin.on('end', () => process.exit(0)); process.stdin.resume(); setInterval(() => { const until = Date.now() + 50; while (Date.now() < until); }, 0);",
    ],
    {
      stdio: ["pipe", "ignore", "ignore"],
    },
  ),
);
if (hogCount > 0) console.log(`# stress: ${hogCount} CPU hog(s) running beside the tests`);
const stopHogs = () => hogs.forEach((hog) => hog.kill("SIGKILL"));
process.on("exit", stopHogs);

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
stopHogs();
process.exit(failed ? 1 : 0);
