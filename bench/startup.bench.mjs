// How long the CLI takes to start, side by side with `node -e 1`: `waybill --help`, `waybill
// status` and `waybill approve <id>` against a running control plane (what a user types many times
// a day), each as the user runs it: `node bin/waybill.js …`, the bundled CLI. Each is a fresh Node
// process; the runs alternate so that load on the machine hits all alike, and the median of
// BENCH_RUNS runs each is compared with the goal of 1.5 × `node -e 1` + 100 ms. Prints one summary
// line on stdout; per-run figures go to stderr.
//
//   node bench/startup.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST)
//   BENCH_RUNS=11
//
// Given a build folder, it times that build's bundle, <dist-dir>/bundle/main.js (what
// bin/waybill.js imports from dist/), so another build can be timed without replacing dist/.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distArg = process.argv[2] ?? process.env.WAYBILL_BENCH_DIST;
const cli =
  distArg === undefined
    ? join(repoRoot, "bin", "waybill.js")
    : join(resolve(repoRoot, distArg), "bundle", "main.js");
const bundle = distArg === undefined ? join(repoRoot, "dist", "bundle", "main.js") : cli;
const runs = Number(process.env.BENCH_RUNS ?? 11);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write("startup: BENCH_RUNS must be a whole number above 0\n");
  process.exit(2);
}
if (!existsSync(bundle)) {
  process.stderr.write(`startup: ${bundle} is missing: build first (npm run build)\n`);
  process.exit(2);
}

const stateDir = mkdtempSync(join(tmpdir(), "waybill-startup-bench-"));

function timed(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { ms, status: result.status, output: `${result.stdout}${result.stderr}` };
}

const cases = {
  "node -e 1": ["-e", "1"],
  "waybill --help": [cli, "--help"],
  "waybill status": [cli, "--state", stateDir, "status"],
  "waybill approve": [cli, "--state", stateDir, "approve", "r-000000000000"],
};

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

try {
  // The first call starts the control plane; only the calls after it are start-up.
  const first = timed(cases["waybill status"]);
  if (first.status !== 0) throw new Error(`waybill status failed: ${first.output}`);
  const times = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let round = 0; round < runs; round++) {
    for (const [name, args] of Object.entries(cases)) {
      const { ms, status, output } = timed(args);
      // approve of an unknown run is refused (exit 2) after the round trip: that is the case timed.
      if (status !== 0 && !(name === "waybill approve" && status === 2)) {
        throw new Error(`${name} failed (${status}): ${output}`);
      }
      times[name].push(ms);
      process.stderr.write(`${name}: ${ms.toFixed(1)} ms\n`);
    }
  }
  const node = median(times["node -e 1"]);
  const goal = 1.5 * node + 100;
  const figures = Object.keys(cases)
    .filter((name) => name !== "node -e 1")
    .map((name) => {
      const ms = median(times[name]);
      return { name, ms, met: ms <= goal };
    });
  process.stdout.write(
    `startup (median of ${runs}): node -e 1 ${node.toFixed(0)} ms, goal ≤ ${goal.toFixed(0)} ms; ` +
      figures
        .map(
          ({ name, ms, met }) =>
            `${name} ${ms.toFixed(0)} ms (${(ms / node).toFixed(2)}× node, ${met ? "met" : "NOT met"})`,
        )
        .join(", ") +
      "\n",
  );
} finally {
  spawnSync(process.execPath, [cli, "--state", stateDir, "down"], { stdio: "ignore" });
  rmSync(stateDir, { recursive: true, force: true });
}
