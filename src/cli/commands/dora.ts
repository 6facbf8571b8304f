import { getDora, type DoraReportView, type StageDoraView } from "../../api/dora.js";
import { parseWindow } from "../../metrics/dora.js";
import { argument, defineCommand, option } from "../command.js";
import { connect } from "../client.js";
import { printJson } from "../json-output.js";
import { flag, fromText, oneOf, text } from "../options.js";
import { table } from "../views.js";

export const doraCommand = defineCommand({
  name: "dora",
  args: { service: argument(text.optional(), "one service (all of them if left out)") },
  options: {
    since: option(
      "--since <window>",
      "how far back from now: hours, days or weeks, such as 12h, 30d or 4w",
      fromText("expected a window such as 12h, 30d or 4w (at most ten years)", (given) =>
        parseWindow(given) === undefined ? undefined : given,
      ).prefault("30d"),
    ),
    bucket: option(
      "--bucket <step>",
      "the step of the JSON series",
      oneOf(["day", "week"] as const).prefault("week"),
    ),
    json: option("--json", "print the report, with a series by day or week, as JSON", flag),
  },
  helpAfter:
    "\nDeployments are ship runs that released to a stage; a deployment failed when it was rolled back\n" +
    "(or its run failed after releasing). Bands follow the 2023 Accelerate State of DevOps report.\n",
  async run({ service }, options, context) {
    const client = await connect(context.stateDir);
    const report = await client.call(getDora, {
      query: { since: options.since, bucket: options.bucket, ...(service === undefined ? {} : { service }) },
    });
    if (options.json) printJson(context, report);
    else context.stdout(doraTable(report, options.since));
    return 0;
  },
});

/** The four keys of each stage, each with its band, and a note where lead time started at the ship */
export function doraTable(report: DoraReportView, since: string): string {
  const header = `DORA over the last ${since} (${report.since.slice(0, 10)} to ${report.until.slice(0, 10)})\n`;
  if (report.stages.length === 0) return `${header}no services yet\n`;
  const rows = [
    ["SERVICE", "STAGE", "DEPLOYMENT FREQUENCY", "LEAD TIME", "CHANGE FAILURE RATE", "TIME TO RESTORE"],
  ];
  for (const stage of report.stages) rows.push(stageRow(stage));
  const fromShip = report.stages.reduce((sum, stage) => sum + stage.leadTime.fromShip, 0);
  const deployments = report.stages.reduce((sum, stage) => sum + stage.deployments, 0);
  const unrestored = report.stages.reduce((sum, stage) => sum + stage.timeToRestore.unrestored, 0);
  const notes = [
    ...(fromShip === 0
      ? []
      : [
          `lead time started at the ship for ${fromShip} of ${deployments} deployments (their build recorded no commit time)`,
        ]),
    ...(unrestored === 0
      ? []
      : [`${unrestored} failed deployment${unrestored === 1 ? " is" : "s are"} not restored yet`]),
  ];
  return (
    header +
    table(rows) +
    notes.map((note) => `${note}\n`).join("") +
    "bands: elite, high, medium, low, after the 2023 Accelerate State of DevOps report\n"
  );
}

function stageRow(stage: StageDoraView): string[] {
  const { bands } = stage;
  const failure = stage.changeFailure;
  return [
    stage.service,
    stage.stage,
    `${perDay(stage.deploymentsPerDay)}  ${bands.deploymentFrequency}`,
    withBand(stage.leadTime.medianSeconds, duration, bands.leadTime),
    failure.ratio === null
      ? "-"
      : `${percent(failure.ratio)} (${failure.failed} of ${stage.deployments})  ${bands.changeFailureRate ?? ""}`,
    withBand(stage.timeToRestore.medianSeconds, duration, bands.timeToRestore),
  ];
}

function withBand(value: number | null, format: (value: number) => string, band: string | null): string {
  return value === null ? "-" : `${format(value)}  ${band ?? ""}`;
}

/** `2.3/day`, or per week or month when less than daily */
export function perDay(value: number): string {
  if (value === 0 || value >= 1) return `${round1(value)}/day`;
  if (value >= 1 / 7) return `${round1(value * 7)}/week`;
  return `${round1(value * 30)}/month`;
}

/** `45s`, `12m`, `4h 12m`, `3d 4h` */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes}m`;
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
  const hours = Math.round(minutes / 60);
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function percent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

function round1(value: number): string {
  return String(Math.round(value * 10) / 10);
}
