/**
 * The control plane's numbers through a real control plane: after a ship through a stage with a
 * quality gate, `GET /metrics` answers a viewer with the runs, gate and DORA families of the
 * service and its stages (and refuses a request with no token); a real Prometheus (Debian's
 * `prometheus`) scrapes it with a bearer token from a file and answers PromQL about it; and
 * `waybill dora` prints the four keys per stage, as a table and as JSON.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pickFreePort } from "../runtime/ports.js";
import type { RunView } from "../cli/views.js";
import { cleanUp, replaceStages, runCli, scratchExample } from "../testing/cli.js";

const PROMETHEUS_BIN = "/usr/bin/prometheus";
const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

function controlPlaneUrl(): string {
  return (JSON.parse(readFileSync(join(scratch.stateDir, "control-plane.json"), "utf8")) as { url: string })
    .url;
}

/** Polls `check` until it holds, errors counting as "not yet"; fails naming `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, tail = () => "") {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.fail(`${what} did not happen within ${timeoutMs / 1000} s${tail()}`);
}

/** The sample of `family` whose labels include all of `labels`, or undefined */
function sample(text: string, family: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match?.[1] !== family) continue;
    const has = Object.entries(labels).every(([name, value]) => match[2]?.includes(`${name}="${value}"`));
    if (has) return Number(match[3]);
  }
  return undefined;
}

interface PrometheusAnswer {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

const count = (runs: RunView[], stage: string, state: string) =>
  runs.filter((run) => run.stage === stage && run.state === state).length;

describe("metrics of a real control plane", { timeout: 600_000 }, () => {
  let viewer = "";
  /** The ship runs as `waybill runs` lists them: what every number below is checked against */
  let history: RunView[] = [];
  const released = (stage: string) => count(history, stage, "succeeded");

  before(async () => {
    replaceStages(scratch.serviceDir, [
      "{ name: dev, test: false, gate: false }",
      "{ name: staging, approval: { pass: automatic, warning: automatic } }",
    ]);
    for (let attempt = 1; ; attempt++) {
      const version = `1.0.${attempt}`;
      const shipped = await runCli(["ship", "hello", "--version", version], {
        stateDir: scratch.stateDir,
        cwd: scratch.root,
        env: { HELLO_LABEL: version },
        timeoutMs: 300_000,
      });
      if (shipped.code === 0) break;
      // The load test will not judge on a machine too busy to keep its rate; a person ships again.
      assert.ok(attempt < 4 && /inconclusive/.test(shipped.stdout), shipped.stdout + shipped.stderr);
      console.log(`${version}: the load test was inconclusive on a busy machine; shipping again`);
    }
    const listed = await cli(["runs", "hello", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    history = (JSON.parse(listed.stdout) as { runs: RunView[] }).runs;
    assert.equal(released("staging"), 1);
    const made = await cli(["tokens", "create", "grafana", "--role", "viewer"]);
    assert.equal(made.code, 0, made.stderr);
    viewer = made.stdout.trim();
  });

  after(async () => {
    await cli(["down"]);
    cleanUp(scratch.root);
  });

  test("GET /metrics answers a viewer with the runs, gate and DORA families, and no token with 401", async () => {
    const response = await fetch(`${controlPlaneUrl()}/metrics`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const family of [
      "waybill_runs_started_total",
      "waybill_runs_finished_total",
      "waybill_run_duration_seconds",
      "waybill_gate_evaluations_total",
      "waybill_gate_score",
      "waybill_dora_deployments_per_day",
      "waybill_dora_lead_time_seconds",
      "waybill_dora_change_failure_ratio",
      "waybill_dora_time_to_restore_seconds",
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${family} `, "m"), family);
    }
    for (const stage of ["dev", "staging"]) {
      assert.equal(
        sample(text, "waybill_runs_finished_total", { service: "hello", stage, result: "succeeded" }),
        released(stage),
        `runs released at ${stage}`,
      );
      const failed = count(history, stage, "failed");
      assert.equal(
        sample(text, "waybill_runs_finished_total", { service: "hello", stage, result: "failed" }),
        failed === 0 ? undefined : failed,
        `runs failed at ${stage}`,
      );
      assert.equal(
        sample(text, "waybill_run_duration_seconds_count", { stage }),
        released(stage) + failed,
        `a duration for each finished run at ${stage}`,
      );
      const perDay = sample(text, "waybill_dora_deployments_per_day", { service: "hello", stage });
      assert.ok(perDay !== undefined && perDay > 0, `deployment frequency at ${stage}: ${perDay}`);
      assert.ok(
        (sample(text, "waybill_dora_lead_time_seconds", { service: "hello", stage }) ?? -1) >= 0,
        `lead time at ${stage}`,
      );
      assert.equal(sample(text, "waybill_dora_change_failure_ratio", { service: "hello", stage }), 0);
    }
    const evaluations = ["pass", "warning", "fail"]
      .map((result) =>
        sample(text, "waybill_gate_evaluations_total", { service: "hello", stage: "staging", result }),
      )
      .reduce((sum: number, value) => sum + (value ?? 0), 0);
    const judged = history.filter((run) => run.stage === "staging" && run.result !== null).length;
    assert.ok(judged >= 1);
    assert.equal(evaluations, judged, "an evaluation for each staging run the gate judged");
    const score = sample(text, "waybill_gate_score", { service: "hello", stage: "staging" });
    assert.ok(score !== undefined && score >= 0 && score <= 100, `gate score ${score}`);

    const anonymous = await fetch(`${controlPlaneUrl()}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("content-type") ?? "", /^application\/problem\+json/);
    const wrong = await fetch(`${controlPlaneUrl()}/metrics`, {
      headers: { authorization: "Bearer wb_nope" },
    });
    assert.equal(wrong.status, 401);
  });

  test("a real Prometheus scrapes /metrics with the token and answers for the service", async (t) => {
    if (!existsSync(PROMETHEUS_BIN)) {
      const message = `${PROMETHEUS_BIN} is missing: install Debian's package (apt-get install -y prometheus)`;
      if (process.env.CI === "true") assert.fail(message);
      t.skip(message);
      return;
    }
    const dataDir = join(scratch.root, "prometheus");
    const tokenFile = join(scratch.root, "prometheus-token");
    writeFileSync(tokenFile, viewer, { mode: 0o600 });
    const config = join(scratch.root, "prometheus.yml");
    writeFileSync(
      config,
      [
        "global:",
        "  scrape_interval: 2s",
        "  scrape_timeout: 2s",
        "scrape_configs:",
        "  - job_name: waybill",
        "    metrics_path: /metrics",
        "    authorization:",
        "      type: Bearer",
        `      credentials_file: ${tokenFile}`,
        "    static_configs:",
        `      - targets: ["${new URL(controlPlaneUrl()).host}"]`,
        "",
      ].join("\n"),
    );
    const port = await pickFreePort(new Set());
    const prometheusUrl = `http://127.0.0.1:${port}`;
    let log = "";
    const child: ChildProcess = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dataDir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString("utf8")).slice(-4000)));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    t.after(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    });
    const query = async (promql: string): Promise<PrometheusAnswer["data"]["result"]> => {
      const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const answer = (await response.json()) as PrometheusAnswer;
      assert.equal(answer.status, "success");
      return answer.data.result;
    };
    const logTail = () => `; Prometheus's log ends with:\n${log}`;

    // Prometheus applies new scrape targets on a 5 s tick, so the first scrape comes some seconds after it started.
    await waitFor(
      "a successful scrape of the control plane",
      async () => (await query('up{job="waybill"}'))[0]?.value[1] === "1",
      90_000,
      logTail,
    );
    const finished = await query(
      'sum by (stage) (waybill_runs_finished_total{service="hello",result="succeeded"})',
    );
    assert.deepEqual(finished.map((series) => [series.metric.stage, series.value[1]]).sort(), [
      ["dev", String(released("dev"))],
      ["staging", "1"],
    ]);
    const deployments = await query('waybill_dora_deployments_per_day{service="hello",stage="dev"}');
    assert.equal(deployments.length, 1);
    assert.ok(Number(deployments[0]?.value[1]) > 0);
  });

  test("waybill dora prints the four keys per stage, as a table and as JSON", async () => {
    const shown = await cli(["dora", "hello"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^DORA over the last 30d \(\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}\)$/m);
    assert.match(
      shown.stdout,
      /SERVICE\s+STAGE\s+DEPLOYMENT FREQUENCY\s+LEAD TIME\s+CHANGE FAILURE RATE\s+TIME TO RESTORE/,
    );
    assert.match(
      shown.stdout,
      new RegExp(
        `^hello\\s+dev\\s+${released("dev")}/month\\s+\\w+\\s+\\S+\\s+\\w+\\s+0% \\(0 of ${released("dev")}\\)\\s+\\w+\\s+-$`,
        "m",
      ),
    );
    assert.match(shown.stdout, /^hello\s+staging\s+1\/month/m);

    const json = await cli(["dora", "hello", "--json", "--since", "7d", "--bucket", "day"]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as {
      bucket: string;
      stages: {
        service: string;
        stage: string;
        deployments: number;
        deploymentsPerDay: number;
        leadTime: { medianSeconds: number | null; fromCommit: number; fromShip: number };
        changeFailure: { failed: number; ratio: number | null };
        timeToRestore: { medianSeconds: number | null; restored: number; unrestored: number };
        bands: Record<string, string | null>;
        series: { start: string; deployments: number }[];
      }[];
    };
    assert.equal(report.bucket, "day");
    assert.deepEqual(
      report.stages.map((stage) => [stage.service, stage.stage]),
      [
        ["hello", "dev"],
        ["hello", "staging"],
      ],
    );
    for (const stage of report.stages) {
      const deployments = released(stage.stage);
      assert.equal(stage.deployments, deployments);
      assert.ok(
        Math.abs(stage.deploymentsPerDay - deployments / 7) < 1e-9,
        `${stage.deploymentsPerDay} a day over 7 days`,
      );
      assert.ok(stage.leadTime.medianSeconds !== null && stage.leadTime.medianSeconds >= 0);
      assert.equal(stage.leadTime.fromCommit + stage.leadTime.fromShip, deployments);
      assert.deepEqual(stage.changeFailure, { failed: 0, ratio: 0 });
      assert.equal(stage.timeToRestore.medianSeconds, null, "nothing failed, so nothing was restored");
      assert.equal(stage.timeToRestore.unrestored, 0);
      assert.ok(stage.bands.deploymentFrequency !== null);
      // Calendar days (UTC): a 7-day window that does not start at midnight touches 8 of them.
      assert.ok(stage.series.length === 7 || stage.series.length === 8, `${stage.series.length} days`);
      assert.equal(
        stage.series.reduce((sum, point) => sum + point.deployments, 0),
        deployments,
        "the series holds every deployment",
      );
    }

    const bad = await cli(["dora", "--since", "nonsense"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.equal(bad.stderr.trimEnd().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /--since.*12h, 30d or 4w/);

    // A viewer on another machine reads the same report through the shared control plane.
    const elsewhere = join(scratch.root, "elsewhere");
    mkdirSync(elsewhere);
    const remote = await runCli(["dora", "--json"], {
      stateDir: "",
      cwd: elsewhere,
      env: {
        WAYBILL_STATE: "",
        WAYBILL_CONFIG_DIR: join(elsewhere, "config"),
        WAYBILL_URL: controlPlaneUrl(),
        WAYBILL_TOKEN: viewer,
      },
    });
    assert.equal(remote.code, 0, remote.stderr);
    assert.deepEqual(
      (JSON.parse(remote.stdout) as { stages: { stage: string; deployments: number }[] }).stages.map(
        (stage) => [stage.stage, stage.deployments],
      ),
      [
        ["dev", released("dev")],
        ["staging", 1],
      ],
    );

    const unknown = await cli(["dora", "nobody"]);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'error: no service named "nobody"\n');
  });
});
