// The gate on a busy machine: ships of examples/hello through a gated staging stage, while CPU
// hogs start and stop at random on every core, as other jobs do on a shared machine. Two services
// side by side in one control plane, ships alternating between them so both meet the same noise:
//   - concurrent: Waybill's gate (the live release measured in the same window, decided on samples)
//   - history:    the same SLO with `baseline: history`: one p95 against the average of the three
//                 newest passing results, a difference inside their run-to-run spread allowed
//   - keptn:      the peer, Keptn's lighthouse arithmetic on the history service's measurements
//                 (the value against the same target, no allowance), read from each evaluation
// Each trial ships an identical build, a build 15% slower and one 30% slower, each against a good
// live release. The staging objective is latency_p95 <=+10% with no warning band.
// Prints one summary line on stdout: false-fail rate, detection at +15% and +30%, for each.
//
//   node bench/gate-noise.bench.mjs [dist-dir]      (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_TRIALS=5 BENCH_HOGS=<cores>
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { benchArguments } from "./lib/args.mjs";

const { positiveInteger } = benchArguments("gate-noise");

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const cli = join(distDir, "cli", "main.js");
const trials = positiveInteger("BENCH_TRIALS", 5);
const hogSlots = positiveInteger("BENCH_HOGS", availableParallelism());

const root = mkdtempSync(join(tmpdir(), "waybill-gate-noise-"));
const stateDir = join(root, "state");
const SLO = `slo:
  comparison: { compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg }
  objectives:
    - sli: latency_p95
      pass: [{ criteria: ["<=+10%"] }]
    - sli: error_rate
      pass: [{ criteria: ["<1"] }]
      key_sli: true
  total_score: { pass: "90%", warning: "75%" }
`;

/** examples/hello as `name`, with the drill's SLO and a gated staging stage comparing as `baseline`. */
function service(name, baseline) {
  const dir = join(root, name);
  cpSync(join(repoRoot, "examples", "hello"), dir, {
    recursive: true,
    filter: (path) => !/\/(dist|\.waybill)$/.test(path),
  });
  const spec = readFileSync(join(dir, "waybill.yaml"), "utf8");
  const head = spec.slice(0, spec.indexOf("slo:")).replace("name: hello", `name: ${name}`);
  writeFileSync(
    join(dir, "waybill.yaml"),
    `${head}${SLO}stages:
  - { name: dev, test: false, gate: false }
  - { name: staging, strategy: blue-green, baseline: ${baseline}, approval: { pass: automatic, warning: automatic } }
`,
  );
  return name;
}

function waybill(args, env = {}) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, "--state", stateDir, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

let builds = 0;
/**
 * Ships one build: `gate` is "caught" when staging's gate failed it, "passed" when staging released
 * it; `keptn` is what Keptn's arithmetic alone says of the same evaluation.
 */
async function ship(name, slowPct) {
  builds += 1;
  const env = { HELLO_LABEL: `build-${builds}`, HELLO_SLOW_PCT: String(slowPct) };
  const shipped = await waybill(["ship", name, "--version", `1.0.${builds}`, "--json"], env);
  const staging = JSON.parse(shipped.stdout || "{}").runs?.find((run) => run.stage === "staging");
  let gate;
  if (staging?.state === "succeeded") gate = "passed";
  else if (staging?.state === "failed" && /quality gate failed/.test(staging.reason ?? "")) gate = "caught";
  else throw new Error(`ship of ${name} ended unexpectedly: ${shipped.stdout}${shipped.stderr}`);
  const detail = JSON.parse((await waybill(["run", staging.id, "--json"])).stdout);
  const keptnFails = (detail.evaluation?.evaluation.objectives ?? []).some((objective) =>
    objective.passTargets.some((target) =>
      target.judged === undefined ? target.violated : !keptnHolds(objective.value.value, target),
    ),
  );
  return { gate, keptn: keptnFails ? "caught" : "passed" };
}

/** `<=+10%` as Keptn checks it: the value against the target, nothing else. */
function keptnHolds(value, target) {
  return target.criteria.startsWith("<=") ? value <= target.targetValue : value < target.targetValue;
}

/** Busy loops on every core, each switched on or off at random every 0.5–2 s. */
function startHogs() {
  const slots = Array.from({ length: hogSlots }, () => null);
  let stopped = false;
  const toggle = (index) => {
    if (stopped) return;
    if (slots[index] === null && Math.random() < 0.6) {
      slots[index] = spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" });
    } else if (slots[index] !== null) {
      slots[index].kill("SIGKILL");
      slots[index] = null;
    }
    setTimeout(() => toggle(index), 500 + Math.random() * 1500);
  };
  slots.forEach((_, index) => toggle(index));
  return () => {
    stopped = true;
    for (const hog of slots) hog?.kill("SIGKILL");
  };
}

const modes = { concurrent: service("hello", "concurrent"), history: service("hello-history", "history") };
const tally = Object.fromEntries(
  [...Object.keys(modes), "keptn"].map((mode) => [mode, { falseFail: 0, caught15: 0, caught30: 0 }]),
);
/** Counts one case for the service's own gate and, for the history service, for Keptn's arithmetic. */
function count(mode, field, outcome) {
  if (outcome.gate === "caught") tally[mode][field] += 1;
  if (mode === "history" && outcome.keptn === "caught") tally.keptn[field] += 1;
}
const stopHogs = startHogs();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    stopHogs();
    process.exit(130);
  });
}
const started = Date.now();
try {
  // Three good releases first, so history has its three earlier results to average.
  for (let index = 0; index < 3; index++) {
    for (const name of Object.values(modes)) await ship(name, 0);
  }
  for (let trial = 1; trial <= trials; trial++) {
    for (const [mode, name] of Object.entries(modes)) {
      count(mode, "falseFail", await ship(name, 0));
      // A slow build that got through is live now: a good one goes back before the next case.
      const slower = await ship(name, 15);
      count(mode, "caught15", slower);
      if (slower.gate === "passed") await ship(name, 0);
      const slowest = await ship(name, 30);
      count(mode, "caught30", slowest);
      if (slowest.gate === "passed") await ship(name, 0);
    }
    process.stderr.write(`trial ${trial}/${trials}: ${JSON.stringify(tally)}\n`);
  }
} finally {
  stopHogs();
  await waybill(["down"]);
  rmSync(root, { recursive: true, force: true });
}

const rate = (count) => `${Math.round((100 * count) / trials)}%`;
const describe = (mode) => {
  const counts = tally[mode];
  return `${mode}: false-fail ${rate(counts.falseFail)}, +15% caught ${rate(counts.caught15)}, +30% caught ${rate(counts.caught30)}`;
};
const misjudged = (mode) => {
  const counts = tally[mode];
  return counts.falseFail + (trials - counts.caught15) + (trials - counts.caught30);
};
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stdout.write(
  `gate-noise (${trials} trials, ${hogSlots} random CPU hogs, ${minutes} min): ${describe("concurrent")}; ` +
    `${describe("history")}; ${describe("keptn")}; misjudged of ${3 * trials}: concurrent ${misjudged("concurrent")}, ` +
    `history ${misjudged("history")}, keptn ${misjudged("keptn")}\n`,
);
