/**
 * The quality gate end to end, through the real CLI: a 30% p95 regression of examples/hello
 * fails the staging gate against the live release measured in the same window, staging keeps
 * serving the previous version, production never sees the regression, and ship exits 1 naming
 * the SLI, its change and the interval that proves it. A criterion the samples cannot decide
 * runs further windows up to test.load.maxDuration, then is a warning that says why.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanUp, runCli, scratchExample } from "../testing/cli.js";
import type { RunView, StatusView } from "../cli/views.js";

const scratch = scratchExample("hello");
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root, env });

after(async () => {
  await cli(["down"]);
  cleanUp(scratch.root);
});

async function stages(): Promise<
  Record<string, { state: string; version: string | null; url: string | null }>
> {
  const status = JSON.parse((await cli(["status", "--json"])).stdout) as StatusView;
  return Object.fromEntries((status.services[0]?.stages ?? []).map((s) => [s.name, s]));
}

test(
  "a 30% p95 regression fails the staging gate while production keeps the previous version",
  { timeout: 300_000 },
  async () => {
    const first = await cli(["ship", "hello", "--version", "1.0.0", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const production = (JSON.parse(first.stdout) as { runs: RunView[] }).runs.find(
      (r) => r.stage === "production",
    );
    assert.equal(production?.state, "waiting-approval");
    assert.equal(production?.result, "pass");
    assert.equal((await cli(["approve", production?.id ?? ""])).code, 0);
    const second = await cli(["ship", "hello", "--version", "1.0.1"], { HELLO_LABEL: "second" });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(
      second.stdout,
      /\[staging\] gate pass, score 100, against concurrent baseline; moved most: latency_p95/,
    );

    const regressed = await cli(["ship", "hello", "--version", "1.1.0-slow"], { HELLO_SLOW_PCT: "30" });
    assert.equal(regressed.code, 1, regressed.stdout + regressed.stderr);
    assert.match(
      regressed.stdout,
      /\[staging\] 1\.1\.0-slow (?:rolling back|failed \(run r-[0-9a-f]+\)): evaluate: quality gate failed .*latency_p95 = [\d.]+ violates <=\+10%, baseline [\d.]+ \(\+\d+(\.\d+)?%\) \(significantly past the bound \+10%: typical \+[\d.]+% \[/,
    );

    const now = await stages();
    assert.equal(now.staging?.state, "rolled-back");
    assert.equal(now.staging?.version, "1.0.1");
    assert.equal(now.production?.version, "1.0.0");
    assert.equal((await (await fetch(now.staging?.url ?? "")).text()).trim(), "hello from 1.0.1 (staging)");

    const runs = (JSON.parse((await cli(["runs", "hello", "--json"])).stdout) as { runs: RunView[] }).runs;
    const failed = runs.find((r) => r.stage === "staging" && r.version === "1.1.0-slow");
    assert.equal(failed?.result, "fail");
    assert.ok(
      !runs.some((r) => r.stage === "production" && r.version === "1.1.0-slow"),
      "production never saw it",
    );

    const shown = await cli(["run", failed?.id ?? ""]);
    assert.match(shown.stdout, /quality gate: fail/);
    assert.match(shown.stdout, /latency_p95\s+[\d.]+\s+[\d.]+\s+<=500✓ <=\+10%✗\s+<=\+20%✗\s+fail/);
    assert.match(
      shown.stdout,
      /compared with the live release measured in the same window \(\d+ \+ \d+ requests\)/,
    );
    assert.match(
      shown.stdout,
      /latency_p95\s+<=\+10%\s+\d+\/\d+\s+\+[\d.]+% \[\+[\d.]+%, \+[\d.]+%\]\s+\+[\d.]+% \[.*\]\s+violated/,
    );

    const diff = await cli(["signature", "diff", "1.0.1", "1.1.0-slow", "--json"]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.equal(
      (JSON.parse(diff.stdout) as { stage: string }).stage,
      "staging",
      "without --stage, the newest stage where both were evaluated",
    );
    const changes = (
      JSON.parse(diff.stdout) as {
        changes: { sli: string; relativePct: number; significant: boolean | null }[];
      }
    ).changes;
    const p95 = changes.find((c) => c.sli === "latency_p95");
    assert.ok(p95 && p95.relativePct > 20, `p95 moved ${p95?.relativePct}%`);
    assert.equal(p95.significant, true);
    assert.ok(
      changes.findIndex((c) => c.sli === "latency_p95") < changes.findIndex((c) => c.sli === "error_rate"),
    );
  },
);

test(
  "a criterion the samples cannot decide runs further windows, then is a warning that says why",
  { timeout: 300_000 },
  async () => {
    const file = join(scratch.serviceDir, "waybill.yaml");
    const spec = readFileSync(file, "utf8")
      .replace(/rate: 50 .*\n/, "rate: 2\n")
      .replace("duration: 4s", "duration: 1s\n    maxDuration: 3s")
      .replace("warmup: 500ms", "warmup: 0s");
    writeFileSync(file, spec.slice(0, spec.indexOf("  - name: production")));
    const shipped = await cli(["ship", "hello", "--version", "1.2.0"], { HELLO_LABEL: "few" });
    assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
    assert.match(shipped.stdout, /\[staging\] gate warning, score 75, against concurrent baseline/);

    const runs = (JSON.parse((await cli(["runs", "hello", "--json"])).stdout) as { runs: RunView[] }).runs;
    const staging = runs.find((r) => r.stage === "staging" && r.version === "1.2.0");
    assert.equal(staging?.result, "warning");
    const shown = await cli(["run", staging?.id ?? ""]);
    assert.match(shown.stdout, /test\.measured .* windows=3/, "three windows of 1 s, up to maxDuration 3 s");
    assert.match(
      shown.stdout,
      /latency_p95 is a warning: <=\+10%: too few samples to decide \(\d baseline, \d candidate; 20 each are needed\)/,
    );
  },
);
