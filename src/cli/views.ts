/** The API's JSON shapes as the CLI reads them, and how they are shown to a person. */
import { LOCAL_TARGET } from "../spec/target-kinds.js";
import type { RunView } from "../api/runs.js";
import type { StatusView } from "../api/status.js";
import { formatChange, type Interval, type PairedJudgement } from "../gate/paired-comparison.js";
import type { Evaluation } from "../gate/slo-evaluation.js";

export type { RunView } from "../api/runs.js";
export type { EventView } from "../api/runs.js";
export type { StatusView } from "../api/status.js";

/** Why a queued run waits, and how to move it on when a person must decide. */
export function queuedNote(run: RunView): string {
  const blocker = run.waitingFor;
  if (blocker === undefined) return "queued";
  const behind = `queued behind ${blocker.id} (${visible(blocker.version)}, ${blocker.state})`;
  return blocker.state === "waiting-approval"
    ? `${behind}: decide it with waybill approve ${blocker.id} or waybill reject ${blocker.id}`
    : behind;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text from the API as it may be printed: control characters (a newline or an escape in a
 * version label or a reason) are shown escaped, so they cannot fake lines or colours.
 */
export function visible(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (character) => JSON.stringify(character).slice(1, -1));
}

export function table(cells: string[][]): string {
  const rows = cells.map((row) => row.map(visible));
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  return (
    rows
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

/** `reasons: false` leaves failure reasons out, where they were just printed. */
export function statusTable(status: StatusView, options: { reasons: boolean } = { reasons: true }): string {
  if (status.services.length === 0) return "no services yet: run `waybill ship <dir>`\n";
  return status.services
    .map((service) => {
      const rows = [["STAGE", "STATE", "VERSION", "URL", "NOTE"]];
      for (const stage of service.stages) {
        rows.push([
          stage.name,
          stage.state,
          stage.version ?? "-",
          stage.url ?? "-",
          stageNote(stage, options.reasons),
        ]);
        if (stage.targets.some((target) => target.name !== LOCAL_TARGET)) {
          for (const target of stage.targets) rows.push([`  ${target.name}`, "", target.version, "", ""]);
        }
      }
      return `${service.name}\n${table(rows)}`;
    })
    .join("\n");
}

function stageNote(stage: StatusView["services"][number]["stages"][number], reasons: boolean): string {
  const notes: string[] = [];
  if (stage.state === "waiting-approval" && stage.runId !== null) {
    notes.push(`waybill approve ${stage.runId} (or reject)`);
  }
  if (reasons && stage.reason) notes.push(stage.reason);
  else if (stage.reason && stage.runId !== null) notes.push(`see waybill run ${stage.runId}`);
  const { queued } = stage;
  if (queued.length > 0) {
    notes.push(`queued: ${queued.map((run) => `${visible(run.version)} (${run.id})`).join(", ")}`);
  }
  return notes.join("; ");
}

export function runsTable(runs: RunView[]): string {
  if (runs.length === 0) return "no runs yet\n";
  const rows = [["RUN", "SERVICE", "STAGE", "VERSION", "STATE", "RESULT", "STARTED", "FINISHED"]];
  for (const run of runs) {
    rows.push([
      run.id,
      run.service,
      run.stage,
      run.version,
      run.state,
      run.result ?? "-",
      run.startedAt ?? "-",
      run.finishedAt ?? "-",
    ]);
  }
  return table(rows);
}

export interface EvaluationView {
  result: string;
  score: number;
  version: string;
  baseline: string[];
  evaluation: Evaluation;
  baselineKind?: "concurrent" | "history";
  paired?: PairedJudgement[];
}

/** The gate's verdict per objective, as Keptn's bridge shows it. */
export function evaluationTable(view: EvaluationView): string {
  const { evaluation } = view;
  const head =
    `quality gate: ${evaluation.result} with score ${round(evaluation.score)}` +
    ` (pass ≥ ${evaluation.totalScore.pass}%${evaluation.totalScore.warning === undefined ? "" : `, warning ≥ ${evaluation.totalScore.warning}%`})` +
    `, ${baselineDescription(view)}\n`;
  if (evaluation.objectives.length === 0) return `${head}${evaluation.message}\n`;
  const rows = [["SLI", "VALUE", "BASELINE", "PASS", "WARNING", "STATUS", "SCORE"]];
  for (const objective of evaluation.objectives) {
    rows.push([
      `${objective.displayName || objective.sli}${objective.keySli ? " (key)" : ""}`,
      objective.value.success ? round(objective.value.value) : "no value",
      objective.value.comparedValue === undefined ? "-" : round(objective.value.comparedValue),
      targets(objective.passTargets),
      targets(objective.warningTargets),
      objective.status,
      `${round(objective.score)}/${objective.weight}`,
    ]);
  }
  return head + table(rows) + pairedTable(view) + historyNotes(view) + undecidedNotes(evaluation);
}

/** With history only, how each relative criterion stood against the earlier results' spread. */
function historyNotes(view: EvaluationView): string {
  if (view.baselineKind !== "history") return "";
  const notes = view.evaluation.objectives.flatMap((objective) =>
    objective.passTargets.flatMap((target) =>
      target.judged === undefined || target.judged.decision === "undecided"
        ? []
        : [`${objective.sli} ${target.criteria}: ${target.judged.reason}`],
    ),
  );
  return notes.length === 0 ? "" : `\nagainst the earlier results' run-to-run noise:\n${notes.join("\n")}\n`;
}

function baselineDescription(view: EvaluationView): string {
  if (view.baselineKind === "concurrent") {
    const first = view.paired?.[0];
    const sizes =
      first === undefined ? "" : ` (${first.samples.baseline} + ${first.samples.candidate} requests)`;
    return `compared with the live release measured in the same window${sizes}`;
  }
  return `compared with ${view.baseline.length} earlier result(s)`;
}

/**
 * The pipeline's layer over Keptn's arithmetic: each relative latency criterion decided on both
 * sides' per-request samples, with sample sizes, the estimate and its interval.
 */
function pairedTable(view: EvaluationView): string {
  const paired = view.paired ?? [];
  if (paired.length === 0) return "";
  const rows = [["SLI", "CRITERIA", "SAMPLES", "TYPICAL [95% CI]", "PERCENTILE [95% CI]", "DECISION"]];
  for (const judgement of paired) {
    rows.push([
      judgement.sli,
      judgement.criteria,
      `${judgement.samples.baseline}/${judgement.samples.candidate}`,
      interval(judgement.typical, judgement.unit),
      judgement.percentile === null ? "-" : interval(judgement.percentile, judgement.unit),
      judgement.decision,
    ]);
  }
  return (
    "\nrelative criteria, decided on the per-request samples (the pipeline's significance layer; " +
    "`waybill evaluate` is Keptn's arithmetic alone):\n" +
    table(rows)
  );
}

function undecidedNotes(evaluation: Evaluation): string {
  const notes = evaluation.objectives.flatMap((objective) =>
    objective.inconclusive === undefined ? [] : [`${objective.sli} is a warning: ${objective.inconclusive}`],
  );
  return notes.length === 0 ? "" : `\n${notes.join("\n")}\n`;
}

function interval(value: Interval, unit: "ratio" | "shift"): string {
  return `${formatChange(value.estimate, unit)} [${formatChange(value.low, unit)}, ${formatChange(value.high, unit)}]`;
}

/**
 * One line per gated stage for `ship`: result, score, the kind of baseline, and the SLIs that
 * moved most against it, with their interval where the samples gave one.
 */
export function gateSummary(stage: string, view: EvaluationView, top = 3): string {
  const moved = view.evaluation.objectives
    .filter((objective) => objective.value.success && objective.value.comparedValue !== undefined)
    .map((objective) => {
      const baseline = objective.value.comparedValue ?? 0;
      const change = baseline === 0 ? 0 : (objective.value.value - baseline) / Math.abs(baseline);
      const judged = view.paired?.find((judgement) => judgement.sli === objective.sli);
      const shown = judged?.percentile ?? judged?.typical;
      const ci =
        judged === undefined || shown === undefined || judged.unit !== "ratio"
          ? ""
          : ` [${formatChange(shown.low, "ratio")}, ${formatChange(shown.high, "ratio")}]`;
      return { text: `${objective.sli} ${formatChange(1 + change, "ratio")}${ci}`, size: Math.abs(change) };
    })
    .sort((a, b) => b.size - a.size)
    .slice(0, top);
  const kind =
    view.baselineKind === "concurrent" ? "concurrent baseline" : `history (${view.baseline.length} earlier)`;
  const movedText = moved.length === 0 ? "" : `; moved most: ${moved.map((entry) => entry.text).join(", ")}`;
  return `[${stage}] gate ${view.evaluation.result}, score ${round(view.evaluation.score)}, against ${kind}${movedText}`;
}

function targets(list: { criteria: string; targetValue: number; violated: boolean }[]): string {
  return list.map((t) => `${t.criteria}${t.violated ? "✗" : "✓"}`).join(" ") || "-";
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}
