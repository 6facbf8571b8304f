// SBOM of the 1,357-entry package-lock.json (test/fixtures/sbom/npm-big): `waybill sbom --out`, the
// CLI as a user runs it (`node bin/waybill.js`, the bundled CLI), against @cyclonedx/cyclonedx-npm
// --package-lock-only and @cyclonedx/cdxgen, side by side, each as a fresh Node process (what a CI
// step pays), median wall time of BENCH_RUNS runs each. Prints one summary line on stdout with the
// speed ratio (goal: Waybill at least 10× faster than both) and whether Waybill and cyclonedx-npm
// found the same purls; per-run figures go to stderr.
//
//   node bench/sbom.bench.mjs [dist-dir]        (or WAYBILL_BENCH_DIST)
//   BENCH_RUNS=5
//
// Given a build folder, it times that build's bundle, <dist-dir>/bundle/main.js (what
// bin/waybill.js imports from dist/), so another build can be timed without replacing dist/.
import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distArg = process.argv[2] ?? process.env.WAYBILL_BENCH_DIST;
const waybillCli =
  distArg === undefined
    ? join(repoRoot, "bin", "waybill.js")
    : join(resolve(repoRoot, distArg), "bundle", "main.js");
const bundle = distArg === undefined ? join(repoRoot, "dist", "bundle", "main.js") : waybillCli;
const cyclonedxNpm = join(
  repoRoot,
  "node_modules",
  "@cyclonedx",
  "cyclonedx-npm",
  "bin",
  "cyclonedx-npm-cli.js",
);
// cdxgen pulls a large tree with platform binaries, so it is not a project dependency: the bench
// installs this exact version into bench/.tools (git-ignored) on first use.
const cdxgenVersion = "12.8.4";
const toolsDir = join(repoRoot, "bench", ".tools");
const cdxgen = join(toolsDir, "node_modules", "@cyclonedx", "cdxgen", "bin", "cdxgen.js");
const fixture = join(repoRoot, "test", "fixtures", "sbom", "npm-big");
const runs = Number(process.env.BENCH_RUNS ?? 5);
const goalRatio = 10;

function stop(message) {
  process.stderr.write(`sbom: ${message}\n`);
  process.exit(2);
}

if (!Number.isInteger(runs) || runs < 1) stop("BENCH_RUNS must be a whole number above 0");
if (!existsSync(bundle)) stop(`${bundle} is missing: build first (npm run build)`);
if (!existsSync(cyclonedxNpm)) stop("@cyclonedx/cyclonedx-npm is not installed (npm install)");
if (!existsSync(cdxgen)) {
  process.stderr.write(`installing @cyclonedx/cdxgen@${cdxgenVersion} into bench/.tools
`);
  const installed = spawnSync(
    "npm",
    ["install", "--prefix", toolsDir, "--no-save", "--ignore-scripts", `@cyclonedx/cdxgen@${cdxgenVersion}`],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  if (installed.status !== 0 || !existsSync(cdxgen)) stop("could not install @cyclonedx/cdxgen");
}

// A copy, so neither tool sees the other's output file in the folder it reads
const workDir = await mkdtemp(join(tmpdir(), "waybill-sbom-bench-"));
const project = join(workDir, "project");
await cp(fixture, project, { recursive: true });
const waybillOut = join(workDir, "waybill.json");
const cyclonedxOut = join(workDir, "cyclonedx-npm.json");
const cdxgenOut = join(workDir, "cdxgen.json");

async function timed(label, command, args, options = {}) {
  const started = process.hrtime.bigint();
  await run(command, args, { maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stderr.write(`${label}: ${seconds.toFixed(3)} s\n`);
  return seconds;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

try {
  const waybillTimes = [];
  const cyclonedxTimes = [];
  const cdxgenTimes = [];
  // Alternate the two so background load on the machine hits both alike
  for (let index = 0; index < runs; index++) {
    waybillTimes.push(
      await timed("waybill", process.execPath, [waybillCli, "sbom", project, "--out", waybillOut]),
    );
    cyclonedxTimes.push(
      await timed(
        "cyclonedx-npm",
        process.execPath,
        [
          cyclonedxNpm,
          "--package-lock-only",
          "--flatten-components",
          "--spec-version",
          "1.6",
          "--output-file",
          cyclonedxOut,
        ],
        { cwd: project },
      ),
    );
    cdxgenTimes.push(
      await timed(
        "cdxgen",
        process.execPath,
        [cdxgen, "-t", "js", "--no-recurse", "-o", cdxgenOut, project],
        {
          cwd: workDir,
          env: { ...process.env, FETCH_LICENSE: "false", CDXGEN_DEBUG_MODE: "none" },
        },
      ),
    );
  }
  const purls = async (file) =>
    new Set(
      JSON.parse(await readFile(file, "utf8")).components.map((component) => component.purl.split("?")[0]),
    );
  const ours = await purls(waybillOut);
  const theirs = await purls(cyclonedxOut);
  const samePurls = ours.size === theirs.size && [...ours].every((purl) => theirs.has(purl));
  const waybill = median(waybillTimes);
  const cyclonedx = median(cyclonedxTimes);
  const cdxgenMedian = median(cdxgenTimes);
  const ratio = Math.min(cyclonedx, cdxgenMedian) / waybill;
  process.stdout.write(
    `sbom: waybill ${waybill.toFixed(2)} s vs cyclonedx-npm ${cyclonedx.toFixed(2)} s ` +
      `(${(cyclonedx / waybill).toFixed(1)}×) and cdxgen ${cdxgenMedian.toFixed(2)} s ` +
      `(${(cdxgenMedian / waybill).toFixed(1)}×) (median of ${runs}, ` +
      `1,357-entry package-lock, ${ours.size} purls, same purl set as cyclonedx-npm: ${samePurls ? "yes" : "NO"}): ` +
      `at least ${ratio.toFixed(1)}× faster than both, goal ≥ ${goalRatio}× ${ratio >= goalRatio ? "met" : "NOT met"}\n`,
  );
  if (!samePurls) process.exitCode = 1;
} finally {
  await rm(workDir, { recursive: true, force: true });
}
