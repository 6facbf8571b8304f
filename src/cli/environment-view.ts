/** What an artifact needs to run, as a person reads it: its rightsizing report, whether its runtime took its limits, the packages it never loaded. */
import type {
  MinimumEnvironmentPredicate,
  SizingReport,
} from "../evidence/attestation/minimum-environment.js";
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
