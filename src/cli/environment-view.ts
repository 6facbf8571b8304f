/** What an artifact needs to run, as a person reads it: its rightsizing report, whether its runtime took its limits, the packages it never loaded. */
import type {
  MinimumEnvironmentPredicate,
  SizingReport,
} from "../evidence/attestation/minimum-environment.js";
import { tailCost, type SecurityCost } from "../gate/security-cost.js";
import { colourOf, paint } from "./colour.js";
import { table, visible } from "./views.js";

function formatMs(value: number | undefined): string {
  return value === undefined ? "-" : `${Math.round(value * 10) / 10} ms`;
}

function formatPct(value: number | undefined): string {
  return value === undefined ? "-" : `${Math.round(value * 100) / 100}%`;
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds >= 120 ? `${Math.round(seconds / 60)}m` : `${seconds}s`;
}

export function rightsizeReport(recorded: MinimumEnvironmentPredicate & { sizing: SizingReport }): string {
  const report = recorded.sizing;
  const rows = [
    ["step", "trying", "cpu", "memory", "p95 trial / declared", "errors", "verdict"],
    ...report.steps.map((step, index) => [
      String(index + 1),
      step.phase,
      step.size.cpu,
      step.size.memory,
      `${formatMs(step.trial?.latency_p95)} / ${formatMs(step.reference?.latency_p95)}`,
      formatPct(step.trial?.error_rate),
      `${step.passed ? "pass" : "fail"}${step.passed ? "" : `: ${step.reason}`}`,
    ]),
  ];
  const lines = table(rows)
    .split("\n")
    .map((line, index) => {
      const step = report.steps[index - 1];
      if (step === undefined) return line;
      return paint(line, colourOf(step.passed ? "pass" : "fail") ?? "dim");
    });
  const confirmed =
    report.recommended.confirmed === true
      ? "confirmed: both limits together passed"
      : report.recommended.confirmed === false
        ? visible(report.recommended.note ?? "the confirmation failed")
        : "not confirmed: the bounds ended the search first";
  const usage =
    report.usageBased === null
      ? "no usage was sampled"
      : `cpu ${report.usageBased.cpu}, memory ${report.usageBased.memory} (${report.usageBased.method}; not checked against the SLOs)`;
  const bounds = `at most ${report.bounds.maxSteps} steps and ${formatDuration(report.bounds.maxDurationMs)}; ${report.steps.length} step${report.steps.length === 1 ? "" : "s"} ran${report.bounds.stoppedEarly === null ? "" : `, stopped early: ${report.bounds.stoppedEarly}`}`;
  return [
    `rightsizing ${visible(recorded.stage)} on ${visible(recorded.target)}, against the declared cpu ${report.declared.cpu}, memory ${report.declared.memory}`,
    ...lines,
    "",
    table([
      ["proven minimum", `cpu ${report.provenMinimum.cpu}, memory ${report.provenMinimum.memory}`],
      [
        "recommended",
        `cpu ${report.recommended.cpu}, memory ${report.recommended.memory} (+${Math.round(report.margin * 100)}% margin; ${confirmed})`,
      ],
      ["usage-based", usage],
      ["saving", `cpu ${report.saving.cpuPct}%, memory ${report.saving.memoryPct}% of the declared size`],
      ["bounds", bounds],
    ]),
  ].join("\n");
}

/** Whether the runtime took its limits, as the test saw it */
export function runtimeLimitsLine(seen: MinimumEnvironmentPredicate["runtimeLimits"]): string | null {
  if (seen === null) return null;
  if ("unobservable" in seen) return `runtime limits: not checked (${visible(seen.unobservable)})`;
  const taken = Object.entries(seen.seen)
    .map(([name, value]) => `${name} ${visible(value)}`)
    .join(", ");
  if (seen.mismatches.length === 0) return `runtime limits: the ${seen.runtime} runtime took them (${taken})`;
  return paint(`runtime limits: ${seen.mismatches.map(visible).join("; ")}`, "yellow");
}

const kib = 1024;

function formatBytes(bytes: number): string {
  if (bytes >= kib * kib) return `${Math.round((bytes / kib / kib) * 10) / 10} MiB`;
  return `${Math.round((bytes / kib) * 10) / 10} KiB`;
}

/** The declared packages the new version never loaded under the test load, heaviest first */
export function dependencyUsageTable(usage: MinimumEnvironmentPredicate["dependencies"]): string | null {
  if (usage === null) return null;
  if (!usage.recorded) return `dependencies: ${usage.caveat}`;
  if (usage.neverLoaded.length === 0) {
    return `dependencies: every declared package was loaded under the test load (${usage.loaded.length})`;
  }
  return [
    `dependencies never loaded under the test load: ${usage.neverLoaded.length} of ${usage.neverLoaded.length + usage.loaded.length}, ${formatBytes(usage.neverLoadedBytes)} (${usage.shareOfArtifactPct}% of the artifact)`,
    table([
      ["PACKAGE", "VERSION", "SIZE"],
      ...usage.neverLoaded.map((entry) => [entry.name, entry.version, formatBytes(entry.bytes)]),
    ]),
    usage.caveat,
  ].join("\n");
}

/** The latency budget of the SLO: the absolute pass bound of its p99 objective, else its p95 */
function latencyBudgetMs(
  objectives: readonly { sli: string; pass?: { criteria: string[] }[] }[],
): { sli: string; ms: number } | null {
  for (const sli of ["latency_p99", "latency_p95"]) {
    const objective = objectives.find((candidate) => candidate.sli === sli);
    for (const criterion of objective?.pass?.flatMap((group) => group.criteria) ?? []) {
      const match = /^<=?\s*(\d+(?:\.\d+)?)$/.exec(criterion.trim());
      if (match !== null) return { sli, ms: Number(match[1]) };
    }
  }
  return null;
}

function ms(value: number): string {
  return (Math.round(value * 100) / 100).toFixed(2);
}

/**
 * Where the end-to-end latency goes on a stage with mutual TLS: what the proxy adds, what TLS
 * adds (each measured on the same version with and without it), and the app's own latency, each
 * in ms and as a share of the SLO's latency budget.
 */
export function securityBudgetTable(
  security: SecurityCost,
  endToEnd: { p50: number | undefined; p99: number | undefined },
  objectives: readonly { sli: string; pass?: { criteria: string[] }[] }[],
  cpuPer1k: number | undefined,
): string {
  const budget = latencyBudgetMs(objectives);
  const share = (value: number | undefined) =>
    budget === null || value === undefined ? "-" : `${Math.round((1000 * value) / budget.ms) / 10}%`;
  const rest = (total: number | undefined, added: number) =>
    total === undefined ? undefined : Math.max(0, total - Math.max(0, added));
  const row = (part: string, p50: number | undefined, p99: number | undefined) => [
    part,
    p50 === undefined ? "-" : ms(p50),
    p99 === undefined ? "-" : ms(p99),
    share(p99),
  ];
  const { addedP50, addedP99, samples, breakdown } = security;
  const parts =
    breakdown === null
      ? [row("proxy and app", rest(endToEnd.p50, addedP50.estimate), rest(endToEnd.p99, addedP99.estimate))]
      : [
          row("proxy", breakdown.proxyAdded.p50.estimate, breakdown.proxyAdded.p99.estimate),
          row("app", breakdown.app.p50, breakdown.app.p99),
        ];
  return [
    `mutual TLS, measured on the same version with and without it (${samples.plain} + ${samples.secured} requests):`,
    table([
      [
        "PART",
        "P50 MS",
        "P99 MS",
        budget === null ? "OF THE BUDGET" : `OF THE ${budget.sli} BUDGET (${budget.ms} ms)`,
      ],
      ...parts.slice(0, 1),
      row("security (TLS)", addedP50.estimate, tailCost(security)),
      ...parts.slice(1),
      row("end to end", endToEnd.p50, endToEnd.p99),
    ]),
    `TLS added p50 ${ms(addedP50.estimate)} ms [${ms(addedP50.low)}, ${ms(addedP50.high)}], p99 ${ms(addedP99.estimate)} ms [${ms(addedP99.low)}, ${ms(addedP99.high)}] (95% intervals)` +
      (cpuPer1k === undefined ? "" : `; the terminator used ${cpuPer1k} CPU seconds per 1,000 requests`),
  ].join("\n");
}
