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
import {
  parseMinimumEnvironment,
  type MinimumEnvironmentPredicate,
} from "../../evidence/attestation/minimum-environment.js";
import { evaluationTable, table, visible, type EvaluationView, type EventView } from "../views.js";
import { getRun } from "../../api/runs.js";

export const runCommand = defineCommand({
  name: "run",
  args: { id: argument(text) },
  options: { json: option("--json", "print JSON", flag) },
  async run({ id }, options, context) {
    const client = await connect(context.stateDir);
    const run = await client.call(getRun, { params: { id } });
    if (options.json) {
      printJson(context, run);
      return 0;
    }
    context.stdout(
      `run ${run.id}: ${run.service} ${visible(run.version)} → ${run.stage} (${run.kind})\n` +
        `state ${run.state}, result ${run.result ?? "-"}${run.reason ? `, reason: ${run.reason}` : ""}\n\n`,
    );
    if (run.evaluation) context.stdout(`${evaluationTable(run.evaluation)}\n`);
    const measured = lastData(run.events, "test.measured") as EventData["test.measured"] | undefined;
    const security = securitySection(measured, run.evaluation);
    if (security !== "") context.stdout(`${security}\n\n`);
    const environment = environmentSection(
      measured,
      parseMinimumEnvironment(lastData(run.events, "rightsize.recorded")),
    );
    if (environment !== "") context.stdout(`${environment}\n\n`);
    const rows = [["TIME", "EVENT", "DETAIL"]];
    for (const event of run.events) {
      rows.push([event.time, event.type.replace(/^dev\.waybill\./, ""), detail(event.data)]);
    }
    context.stdout(table(rows));
    return 0;
  },
});

function lastData(events: EventView[], type: string): unknown {
  return events.filter((event) => event.type.endsWith(`.${type}`)).at(-1)?.data;
}

/** On a stage with mutual TLS: what TLS cost, in the budget of the SLO the gate judged */
function securitySection(
  measured: EventData["test.measured"] | undefined,
  evaluation: EvaluationView | null,
): string {
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

/**
 * What the run learned of the artifact's minimum environment: whether its runtime took its limits
 * and which packages it never loaded (from its test), and its size (from its rightsizing).
 */
function environmentSection(
  measured: EventData["test.measured"] | undefined,
  rightsized: MinimumEnvironmentPredicate | null,
): string {
  const parts = [
    runtimeLimitsLine(rightsized?.runtimeLimits ?? measured?.runtimeLimits ?? null),
    dependencyUsageTable(rightsized?.dependencies ?? measured?.dependencies ?? null),
    rightsized === null || rightsized.sizing === null
      ? null
      : rightsizeReport({ ...rightsized, sizing: rightsized.sizing }),
  ];
  return parts.filter((part): part is string => part !== null).join("\n\n");
}

function detail(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([key, value]) => key !== "spec" && value !== undefined && typeof value !== "object")
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ");
}
