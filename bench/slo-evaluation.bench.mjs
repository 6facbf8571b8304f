// Time of one SLO evaluation at a large size: 1,000 objectives, each compared with 100 earlier
// results through relative criteria aggregated by p95 (the costliest aggregate: it sorts). Prints one
// summary line on stdout with the median against the 10 ms goal; per-run figures go to stderr.
//
//   node bench/slo-evaluation.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_RUNS=101 BENCH_WARMUP=20
//
// There is no peer to run side by side: Keptn's lighthouse is a Go service and cannot run here, so
// the figure is reported as a ratio to the goal (bench/README.md).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchArguments } from "./lib/args.mjs";

const { stop, positiveInteger } = benchArguments("slo-evaluation");

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const entry = join(distDir, "gate", "slo-evaluation.js");
const runs = positiveInteger("BENCH_RUNS", 101);
const warmup = positiveInteger("BENCH_WARMUP", 20);
const objectiveCount = 1000;
const earlierCount = 100;
const goalMs = 10;

if (!existsSync(entry)) stop(`${entry} is missing: build first (npm run build)`);
const { evaluateSlo } = await import(pathToFileURL(entry).href);

// A fixed pseudo-random sequence, so every run evaluates the same data.
let state = 12345;
function random() {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 4294967296;
}

const names = Array.from({ length: objectiveCount }, (_, index) => `sli_${index}`);
const slo = {
  comparison: {
    compare_with: "several_results",
    number_of_comparison_results: earlierCount,
    include_result_with_score: "all",
    aggregate_function: "p95",
  },
  objectives: names.map((sli, index) => ({
    sli,
    pass: [{ criteria: ["<=+10%", "<600"] }],
    warning: [{ criteria: ["<=+25%"] }],
    weight: 1 + (index % 3),
    key_sli: index % 100 === 0,
  })),
  total_score: { pass: "90%", warning: "75%" },
};
const sample = () => Object.fromEntries(names.map((sli) => [sli, 100 + random() * 400]));
const values = sample();
const previous = Array.from({ length: earlierCount }, (_, index) => ({
  result: index % 5 === 0 ? "warning" : "pass",
  values: sample(),
}));

for (let run = 0; run < warmup; run++) evaluateSlo(slo, values, previous);
const times = [];
let result;
for (let run = 0; run < runs; run++) {
  const started = process.hrtime.bigint();
  result = evaluateSlo(slo, values, previous);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  times.push(ms);
  process.stderr.write(`run ${run + 1}: ${ms.toFixed(3)} ms\n`);
}
if (
  result.objectives.length !== objectiveCount ||
  result.comparison.comparedIndexes.length !== earlierCount
) {
  stop("the evaluation did not cover every objective and earlier result");
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
process.stdout.write(
  `slo-evaluation: ${objectiveCount} objectives × ${earlierCount} earlier results (p95): ` +
    `median ${median.toFixed(2)} ms over ${runs} runs, goal < ${goalMs} ms, ratio to goal ${(median / goalMs).toFixed(2)} ` +
    `(${median <= goalMs ? "met" : "missed"}; no Keptn peer can run here)\n`,
);
process.exitCode = median <= goalMs ? 0 : 1;
