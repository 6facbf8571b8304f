/**
 * Rightsizing end to end, through the real CLI and real cgroups: a service whose need is known
 * (it burns a fixed CPU time per request and holds a fixed amount of memory) gets a proven CPU
 * limit between its real use and twice that, and a proven memory limit between what it holds
 * and 1.5 times that. The stage option `rightsize: true` runs the experiment after the gate and
 * signs it as the artifact's minimum-environment attestation; `waybill rightsize --write` puts
 * the recommendation into waybill.yaml and keeps its comments.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, runCli } from "../testing/cli.js";
import type { MinimumEnvironmentPredicate } from "../evidence/attestation/minimum-environment.js";
import { locateCgroups, prepareCgroups } from "../runtime/cgroups.js";
import { parseCpuMillicores, parseMemoryBytes } from "../spec/units.js";
import type { RunView } from "../cli/views.js";

const BURN_MS_PER_REQUEST = 5;
/** Arrivals per second in all; the reference and the trial each get half */
const RATE = 80;
const HOLD_MIB = 160;

const root = mkdtempSync(join(tmpdir(), "waybill-rightsize-"));
chmodSync(root, 0o711);
const serviceDir = join(root, "burner");
const stateDir = join(root, "state");
const cli = (args: string[]) => runCli(args, { stateDir, cwd: root, timeoutMs: 600_000 });

after(async () => {
  await cli(["down"]);
  cleanUp(root);
});

const server = `
const http = require("node:http");
// Held, and touched page by page, so it is resident rather than promised.
const held = Buffer.alloc(${HOLD_MIB} * 1024 * 1024);
for (let i = 0; i < held.length; i += 4096) held[i] = 1;
// The same work for every request, sized once to ${BURN_MS_PER_REQUEST} ms of CPU time: CPU time, not
// wall time, so a throttled copy does the same work, only later.
const spin = (rounds) => {
  let sum = 0;
  for (let i = 0; i < rounds; i++) sum += Math.sqrt(i);
  return sum;
};
let rounds = 100000;
for (;;) {
  const before = process.cpuUsage();
  spin(rounds);
  const used = process.cpuUsage(before);
  const micros = used.user + used.system;
  if (micros > 20000) {
    rounds = Math.round((rounds * ${BURN_MS_PER_REQUEST * 1000}) / micros);
    break;
  }
  rounds *= 2;
}
http
  .createServer((request, response) => {
    if (request.url === "/healthz") return response.end("ok");
    response.end(String(spin(rounds) > 0 ? held[4096] : 0));
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
`;

const spec = `# the burner: ${BURN_MS_PER_REQUEST} ms of CPU per request, ${HOLD_MIB} MiB held
metadata:
  name: burner
run:
  command: node server.js
  health: /healthz
  healthTimeout: 5s
resources:
  cpu: 1 # declared generously
  memory: 512Mi
rightsizing:
  maxSteps: 12
  maxDuration: 8m
test:
  load:
    rate: ${RATE}
    duration: 3s
    maxDuration: 3s
    warmup: 500ms
    requests: [{ path: /work }]
slo:
  objectives:
    - sli: latency_p95
      pass: [{ criteria: ["<=250"] }]
    - sli: error_rate
      pass: [{ criteria: ["<1"] }]
      key_sli: true
  total_score: { pass: "90%", warning: "75%" }
stages:
  - name: staging
    test: false
    gate: false
    rightsize: true
`;

async function writableCgroups(): Promise<string | null> {
  const location = await locateCgroups(`rightsize-probe-${process.pid}`);
  if (!location.found) return location.reason;
  const prepared = await prepareCgroups(location.placement);
  return prepared.ok ? null : prepared.reason;
}

test(
  "the proven minimum of a service with a known need lies between its real use and its margin",
  { timeout: 900_000 },
  async (t) => {
    const missing = await writableCgroups();
    if (missing !== null) {
      t.skip(`no writable cgroup on this host: ${missing}`);
      return;
    }
    mkdirSync(serviceDir, { recursive: true });
    writeFileSync(join(serviceDir, "server.js"), server);
    writeFileSync(join(serviceDir, "waybill.yaml"), spec);

    const shipped = await cli(["ship", "burner", "--version", "1.0.0", "--json"]);
    assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
    const staging = (JSON.parse(shipped.stdout) as { runs: RunView[] }).runs.find(
      (r) => r.stage === "staging",
    );
    assert.equal(staging?.state, "succeeded");

    const shown = JSON.parse((await cli(["run", staging?.id ?? "", "--json"])).stdout) as {
      events: { type: string; data: Record<string, unknown> }[];
    };
    const steps = shown.events.filter((event) => event.type.endsWith(".rightsize.step"));
    const recorded = shown.events.find((event) => event.type.endsWith(".rightsize.recorded"));
    assert.ok(recorded, "the ship's rightsize task recorded a report");
    const report = (recorded.data as unknown as MinimumEnvironmentPredicate).sizing;
    assert.ok(report !== null, "the report carries the sizing");
    const detail = JSON.stringify({
      steps: report.steps.map((s) => [s.phase, s.size, s.passed, s.reason]),
      stopped: report.bounds.stoppedEarly,
    });
    assert.ok(report.steps.length <= 12 && report.steps.length >= 6, detail);

    // Its real use at the test load: the reference copy, at the declared size, per second.
    const referenceCpu = steps.flatMap(
      (step) =>
        (step.data.reference as { usage: { perSecond: { cpuMillicores: number[] } } } | null)?.usage.perSecond
          .cpuMillicores ?? [],
    );
    const realUse = median(referenceCpu);
    const proven = parseCpuMillicores(report.provenMinimum.cpu);
    assert.ok(
      realUse >= (RATE / 2) * BURN_MS_PER_REQUEST * 0.8,
      `real use ${realUse}m, from the reference copy's seconds ${JSON.stringify(referenceCpu)}: ${detail}`,
    );
    assert.ok(
      proven >= realUse && proven <= 2 * realUse,
      `proven cpu ${proven}m, real use ${realUse}m: ${detail}`,
    );

    const provenMemoryMib = parseMemoryBytes(report.provenMinimum.memory) / 2 ** 20;
    assert.ok(
      provenMemoryMib >= HOLD_MIB && provenMemoryMib <= 1.5 * HOLD_MIB,
      `proven memory ${provenMemoryMib}Mi for ${HOLD_MIB}Mi held: ${detail}`,
    );
    assert.ok(
      report.steps.some(
        (step) => step.phase === "memory" && /OOM-killed|did not start healthy/.test(step.reason),
      ),
      `a step below the need was OOM-killed: ${detail}`,
    );
    assert.notEqual(report.usageBased, null);
    assert.ok(report.saving.cpuPct > 0 && report.saving.memoryPct > 0);

    const evidence = await cli(["evidence", "burner@1.0.0", "--json"]);
    assert.equal(evidence.code, 0, evidence.stderr);
    assert.match(evidence.stdout, /minimum-environment/);

    const rerun = await cli(["rightsize", "burner", "--max-steps", "5", "--write", "burner/waybill.yaml"]);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    assert.match(rerun.stdout, /step\s+trying\s+cpu\s+memory/);
    assert.match(rerun.stdout, /proven minimum\s+cpu \d+m?, memory \d+Mi/);
    assert.match(rerun.stdout, /usage-based\s+cpu \d+m?, memory \d+Mi \(VPA's arithmetic/);
    assert.match(
      rerun.stdout,
      /bounds\s+at most 5 steps and 8m; \d steps? ran, stopped early: the step bound \(5\) was reached/,
    );
    const written = readFileSync(join(serviceDir, "waybill.yaml"), "utf8");
    assert.match(written, /^# the burner: /);
    assert.match(written, /cpu: \d+m? # declared generously/);
    assert.doesNotMatch(written, /memory: 512Mi/);
  },
);

test("a rightsize of a stage with no live release is refused with the next step", async () => {
  const refused = await cli(["rightsize", "nothing-here", "--stage", "staging"]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /no service named "nothing-here"/);
  const badSteps = await cli(["rightsize", "burner", "--max-steps", "many"]);
  assert.equal(badSteps.code, 2);
  assert.match(badSteps.stderr, /--max-steps/);
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
