/**
 * What the signature and DORA pages say, worked out apart from drawing it (pure, so the tests run
 * it in Node): numbers as text, a heatmap cell's accessible label, an SLI's trend with its
 * threshold bands, which two builds to compare first, and DORA's figures as words.
 */
import type { StageDoraView } from "../../api/dora.js";
import type { HeatmapCellView, SignatureHeatmapView } from "../../api/signatures.js";

export type HeatmapBuild = SignatureHeatmapView["builds"][number];

/** Three significant digits, without a trailing ".0", and "—" for nothing */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString("en");
  return String(Number(value.toPrecision(3)));
}

/** A signed change: "+15.2%", "−3 (from 0)"; the sign is written, never shown by colour alone */
export function formatChange(absolute: number | null, relativePct: number | null): string {
  if (absolute === null) return "appeared or vanished";
  if (relativePct === null) return `${signed(absolute)} (from 0)`;
  return `${signed(relativePct)}%`;
}

function signed(value: number): string {
  const text = formatValue(Math.abs(value));
  if (value > 0) return `+${text}`;
  return value < 0 ? `−${text}` : "0";
}

/** Everything a heatmap cell means, in words, for a screen reader and a tooltip */
export function cellLabel(sli: string, version: string, cell: HeatmapCellView | undefined): string {
  if (cell === undefined) return `${sli} in ${version}: not judged`;
  const parts = [
    `${sli} in ${version}: ${cell.status}`,
    `value ${formatValue(cell.value)}`,
    `baseline ${formatValue(cell.baseline)}`,
    `score ${formatValue(cell.score)}`,
  ];
  if (cell.passCriteria.length > 0) parts.push(`pass ${cell.passCriteria.join(" and ")}`);
  if (cell.warningCriteria.length > 0) parts.push(`warning ${cell.warningCriteria.join(" and ")}`);
  return parts.join(", ");
}

export interface Trend {
  /** Build versions, oldest first: the x axis */
  versions: string[];
  values: (number | null)[];
  baseline: (number | null)[];
  pass: (number | null)[];
  warning: (number | null)[];
  /** Which side of the thresholds is good, from the newest build that says */
  better: "lower" | "higher" | null;
}

/** One SLI over the builds (given newest first, as the API answers), oldest first */
export function trendOf(builds: readonly HeatmapBuild[], sli: string): Trend {
  const oldestFirst = [...builds].reverse();
  const cells = oldestFirst.map((build) => build.cells[sli]);
  return {
    versions: oldestFirst.map((build) => build.version),
    values: cells.map((cell) => cell?.value ?? null),
    baseline: cells.map((cell) => cell?.baseline ?? null),
    pass: cells.map((cell) => cell?.passThreshold ?? null),
    warning: cells.map((cell) => cell?.warningThreshold ?? null),
    better: builds.map((build) => build.cells[sli]?.better).find((better) => better != null) ?? null,
  };
}

/**
 * The two builds to compare: the selected one (else the newest) against the build before it.
 * Builds are newest first; answers run ids, or null when there are fewer than two.
 */
export function comparisonPair(
  builds: readonly HeatmapBuild[],
  selected: string | null,
): { a: string; b: string } | null {
  const index = Math.max(
    0,
    builds.findIndex((build) => build.runId === selected),
  );
  const b = builds[index];
  const a = builds[index + 1] ?? (index > 0 ? builds[index - 1] : undefined);
  return a === undefined || b === undefined ? null : { a: a.runId, b: b.runId };
}

/** A median in seconds as a duration people read: "42 s", "3.5 h", "2.1 days"; "—" for none */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "—";
  if (seconds < 90) return `${formatValue(seconds)} s`;
  if (seconds < 5400) return `${formatValue(seconds / 60)} min`;
  if (seconds < 172_800) return `${formatValue(seconds / 3600)} h`;
  return `${formatValue(seconds / 86_400)} days`;
}

export interface DoraFigures {
  deploymentFrequency: string;
  leadTime: string;
  changeFailureRate: string;
  timeToRestore: string;
}

/** The four keys of a stage as words, each with DORA's band when it has one */
export function doraFigures(stage: StageDoraView): DoraFigures {
  const band = (name: string | null) => (name === null ? "" : ` (${name})`);
  const perDay = stage.deploymentsPerDay;
  const frequency =
    perDay >= 1 || perDay === 0 ? `${formatValue(perDay)} a day` : `${formatValue(perDay * 7)} a week`;
  return {
    deploymentFrequency: `${frequency}, ${stage.deployments} in all${band(stage.bands.deploymentFrequency)}`,
    leadTime: `${formatSeconds(stage.leadTime.medianSeconds)}${band(stage.bands.leadTime)}`,
    changeFailureRate:
      stage.changeFailure.ratio === null
        ? "—"
        : `${formatValue(stage.changeFailure.ratio * 100)}%, ${stage.changeFailure.failed} failed${band(stage.bands.changeFailureRate)}`,
    timeToRestore: `${formatSeconds(stage.timeToRestore.medianSeconds)}${band(stage.bands.timeToRestore)}`,
  };
}
