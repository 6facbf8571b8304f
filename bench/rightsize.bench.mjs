// How long a rightsizing search takes on the example service, and what it finds beside the
// usage-based recommendation a VPA-style recommender would give from the same samples.
//
// It ships examples/hello to one local stage, then times `waybill rightsize hello --json` as a
// user runs it: each step starts a copy at the trial size in a cgroup of its own, races it
// against the declared size under the stage's test load (4 s at 50 requests a second) and judges
// it by the stage's SLO. The peer is the recommender that never experiments (Kubernetes' VPA
// arithmetic: CPU p90 + 15%, memory peak + 15%), computed on the reference copy's own usage in
// the same run; the line reports both sizes and their ratio, and how many steps a linear sweep at
// the same 10% resolution would need instead of the bisection.
//
//   node bench/rightsize.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST; default dist)
//   BENCH_MAX_STEPS=12
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? process.env.WAYBILL_BENCH_DIST ?? "dist");
const cli = join(distDir, "cli", "main.js");
const maxSteps = Number(process.env.BENCH_MAX_STEPS ?? 12);
if (!existsSync(cli)) {
  process.stderr.write(`rightsize: ${cli} is missing: build first (npm run build)\n`);
  process.exit(2);
}

const root = mkdtempSync(join(tmpdir(), "waybill-rightsize-bench-"));
chmodSync(root, 0o711);
const serviceDir = join(root, "hello");
const stateDir = join(root, "state");
cpSync(join(repoRoot, "examples", "hello"), serviceDir, {
  recursive: true,
  filter: (path) => !/\/(dist|\.waybill)$/.test(path),
});
const specFile = join(serviceDir, "waybill.yaml");
const spec = readFileSync(specFile, "utf8");
writeFileSync(
  specFile,
  `${spec.slice(0, spec.indexOf("stages:"))}stages:\n  - name: staging\n    test: false\n    gate: false\n`,
);

function waybill(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [cli, "--state", stateDir, ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 30 * 60_000,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0)
    throw new Error(`waybill ${args.join(" ")} failed (${result.status}): ${result.stdout}${result.stderr}`);
  return { seconds, stdout: result.stdout };
}

const millicores = (cpu) => (cpu.endsWith("m") ? Number(cpu.slice(0, -1)) : Number(cpu) * 1000);
const mebibytes = (memory) =>
  memory.endsWith("Gi") ? Number(memory.slice(0, -2)) * 1024 : Number(memory.slice(0, -2));
/** Steps of a sweep down from the declared size to the floor, each 10% below the last */
const sweepSteps = (declared, floor) => Math.ceil(Math.log(declared / floor) / Math.log(1.1));

try {
  waybill(["ship", "hello", "--version", "1.0.0"]);
  const { seconds, stdout } = waybill([
    "rightsize",
    "hello",
    "--stage",
    "staging",
    "--max-steps",
    String(maxSteps),
    "--json",
  ]);
  const report = JSON.parse(stdout).report.sizing;
  for (const step of report.steps) {
    process.stderr.write(
      `${step.phase.padEnd(8)} cpu ${step.size.cpu.padEnd(6)} memory ${step.size.memory.padEnd(7)} ${(step.durationMs / 1000).toFixed(1)} s ${step.passed ? "pass" : `fail: ${step.reason}`}\n`,
    );
  }
  const usage = report.usageBased;
  const sweep =
    sweepSteps(millicores(report.declared.cpu), 25) + sweepSteps(mebibytes(report.declared.memory), 32) + 1;
  const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : "-");
  process.stdout.write(
    `rightsize (examples/hello, declared cpu ${report.declared.cpu} memory ${report.declared.memory}): ` +
      `${report.steps.length} steps in ${seconds.toFixed(0)} s (${(seconds / report.steps.length).toFixed(1)} s a step); ` +
      `proven cpu ${report.provenMinimum.cpu} memory ${report.provenMinimum.memory}, recommended cpu ${report.recommended.cpu} memory ${report.recommended.memory}` +
      `${report.recommended.confirmed ? " (confirmed)" : ""}; ` +
      (usage === null
        ? "no usage sampled; "
        : `VPA-style usage-based cpu ${usage.cpu} memory ${usage.memory} (ratio cpu ${ratio(millicores(report.recommended.cpu), millicores(usage.cpu))}×, memory ${ratio(mebibytes(report.recommended.memory), mebibytes(usage.memory))}×); `) +
      `a linear 10% sweep would take ${sweep} steps (${(sweep / report.steps.length).toFixed(1)}× the bisection)\n`,
  );
} finally {
  spawnSync(process.execPath, [cli, "--state", stateDir, "down"], { encoding: "utf8", timeout: 60_000 });
  rmSync(root, { recursive: true, force: true });
}
