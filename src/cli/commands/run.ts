import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, text } from "../options.js";
import {
  dependencyUsageTable,
  rightsizeReport,
  runtimeLimitsLine,
  securityBudgetTable,
} from "../environment-view.js";
import type { EventData } from "../../store/events.js";
import { parseMinimumEnvironment } from "../../evidence/attestation/minimum-environment.js";
import {
  evaluationTable,
  table,
  visible,
  type EvaluationView,
  type EventView,
  type RunView,
} from "../views.js";

export const runCommand = defineCommand({
  name: "run",
  args: { id: argument(text) },
  options: { json: option("--json", "print JSON", flag) },
  async run({ id }, options, context) {
    const client = await connect(context.stateDir);
    const run = await client.get<RunView & { events: EventView[]; evaluation: EvaluationView | null }>(
      `/v1/runs/${encodeURIComponent(id)}`,
    );
    if (options.json) {
      printJson(context, run);
      return 0;
    }
    context.stdout(
      `run ${run.id}: ${run.service} ${visible(run.version)} → ${run.stage} (${run.kind})\n` +
        `state ${run.state}, result ${run.result ?? "-"}${run.reason ? `, reason: ${run.reason}` : ""}\n\n`,
    );
    if (run.evaluation) context.stdout(`${evaluationTable(run.evaluation)}\n`);
    const security = securitySection(run.events, run.evaluation);
    if (security !== "") context.stdout(`${security}\n\n`);
    const environment = environmentSection(run.events);
    if (environment !== "") context.stdout(`${environment}\n\n`);
    const rows = [["TIME", "EVENT", "DETAIL"]];
    for (const event of run.events) {
      rows.push([event.time, event.type.replace(/^dev\.waybill\./, ""), detail(event.data)]);
    }
    context.stdout(table(rows));
    return 0;
  },
});

/** On a stage with mutual TLS: what TLS cost, in the budget of the SLO the gate judged */
function securitySection(events: EventView[], evaluation: EvaluationView | null): string {
  const measured = events.filter((event) => event.type.endsWith(".test.measured")).at(-1)?.data as
    EventData["test.measured"] | undefined;
  if (measured?.security === undefined) return "";
  const objectives = evaluation?.evaluation.objectives.map((objective) => ({
    sli: objective.sli,
    pass: [{ criteria: objective.passTargets.map((target) => target.criteria) }],
  }));
  return securityBudgetTable(
    measured.security,
    { p50: measured.slis.latency_p50, p99: measured.slis.latency_p99 },
    objectives ?? [],
    measured.slis.security_cpu_per_1k_rps,
  );
}

/** What the run learned of the artifact's minimum environment: its runtime, its packages, its size */
function environmentSection(events: EventView[]): string {
  const measured = events.filter((event) => event.type.endsWith(".test.measured")).at(-1)?.data;
  const recorded = events.filter((event) => event.type.endsWith(".rightsize.recorded")).at(-1)?.data;
  const report = parseMinimumEnvironment(
    recorded ?? {
      stage: "",
      target: "",
      sizing: null,
      runtimeLimits: measured?.runtimeLimits ?? null,
      dependencies: measured?.dependencies ?? null,
      window: { start: "", end: "" },
    },
  );
  if (report === null) return "";
  const parts = [runtimeLimitsLine(report.runtimeLimits), dependencyUsageTable(report.dependencies)];
  if (report.sizing !== null) parts.push(rightsizeReport({ ...report, sizing: report.sizing }));
  return parts.filter((part): part is string => part !== null).join("\n\n");
}

function detail(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([key, value]) => key !== "spec" && value !== undefined && typeof value !== "object")
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ");
}
