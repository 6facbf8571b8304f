/**
 * DORA's four keys per service and stage over a window: a table that reads on its own, and per
 * stage two charts over time (deployments and failures; lead time and time to restore).
 */
import { h } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { getDora } from "../../api/dora.js";
import { Chart } from "./chart.js";
import { call, messageOf } from "./client.js";
import { Problem } from "./parts.js";
import { doraFigures, formatValue } from "./signature-model.js";

/** @typedef {import("../../api/dora.js").DoraReportView} Report */
/** @typedef {import("../../api/dora.js").StageDoraView} StageDora */

const WINDOWS = [
  { value: "7d", label: "7 days" },
  { value: "30d", label: "30 days" },
  { value: "13w", label: "13 weeks" },
  { value: "52w", label: "52 weeks" },
];

export function DoraPage() {
  const [since, setSince] = useState("30d");
  const [bucket, setBucket] = useState(/** @type {"day" | "week"} */ ("day"));
  const [report, setReport] = useState(/** @type {Report | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));

  useEffect(() => {
    let current = true;
    call(getDora, { query: { since, bucket } })
      .then((answer) => {
        if (!current) return;
        setReport(answer);
        setError(null);
      })
      .catch((/** @type {unknown} */ failure) => current && setError(messageOf(failure)));
    return () => {
      current = false;
    };
  }, [since, bucket]);

  return h(
    "section",
    { "aria-labelledby": "dora-title", class: "dora" },
    h("h1", { id: "dora-title" }, "DORA's four keys"),
    h(
      "form",
      { class: "pickers", onSubmit: (/** @type {Event} */ event) => event.preventDefault() },
      h("label", { for: "dora-window" }, "Window"),
      h(
        "select",
        {
          id: "dora-window",
          value: since,
          onChange: (/** @type {Event} */ event) =>
            setSince(/** @type {HTMLSelectElement} */ (event.currentTarget).value),
        },
        WINDOWS.map((window) => h("option", { key: window.value, value: window.value }, window.label)),
      ),
      h("label", { for: "dora-step" }, "Step"),
      h(
        "select",
        {
          id: "dora-step",
          value: bucket,
          onChange: (/** @type {Event} */ event) =>
            setBucket(
              /** @type {HTMLSelectElement} */ (event.currentTarget).value === "week" ? "week" : "day",
            ),
        },
        h("option", { value: "day" }, "day"),
        h("option", { value: "week" }, "week"),
      ),
    ),
    error === null ? null : h(Problem, null, error),
    report === null
      ? error === null
        ? h("p", { class: "loading" }, "Loading…")
        : null
      : report.stages.length === 0
        ? h("p", null, "No stage has delivered anything in this window.")
        : [
            h(DoraTable, { key: "table", report }),
            report.stages.map((stage) =>
              h(StageCharts, { key: `${stage.service}/${stage.stage}`, stage, bucket: report.bucket }),
            ),
          ],
  );
}

/** @param {{ report: Report }} props */
function DoraTable({ report }) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "dora-table" },
      h(
        "caption",
        null,
        `From ${report.since.slice(0, 10)} to ${report.until.slice(0, 10)} (${formatValue(report.days)} days); DORA's band in brackets`,
      ),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          [
            "Service",
            "Stage",
            "Deployment frequency",
            "Lead time (median)",
            "Change failure rate",
            "Time to restore (median)",
          ].map((name) => h("th", { key: name, scope: "col" }, name)),
        ),
      ),
      h(
        "tbody",
        null,
        report.stages.map((stage) => {
          const figures = doraFigures(stage);
          return h(
            "tr",
            { key: `${stage.service}/${stage.stage}` },
            h("td", null, stage.service),
            h("th", { scope: "row" }, stage.stage),
            h("td", null, figures.deploymentFrequency),
            h("td", null, figures.leadTime),
            h("td", null, figures.changeFailureRate),
            h("td", null, figures.timeToRestore),
          );
        }),
      ),
    ),
  );
}

const hours = (/** @type {number | null} */ seconds) => (seconds === null ? null : seconds / 3600);

/** @param {{ stage: StageDora, bucket: "day" | "week" }} props */
function StageCharts({ stage, bucket }) {
  const charts = useMemo(() => {
    const ticks = stage.series.map((point) => point.start.slice(5, 10));
    return {
      ticks,
      counts: [
        {
          label: "deployments",
          values: stage.series.map((point) => point.deployments),
          colour: "#0a58ca",
          width: 2,
          points: true,
        },
        {
          label: "failures",
          values: stage.series.map((point) => point.failures),
          colour: "#cf222e",
          dash: [4, 3],
          points: true,
        },
      ],
      times: [
        {
          label: "lead time (h)",
          values: stage.series.map((point) => hours(point.leadTimeSeconds)),
          colour: "#1a7f37",
          width: 2,
          points: true,
        },
        {
          label: "time to restore (h)",
          values: stage.series.map((point) => hours(point.timeToRestoreSeconds)),
          colour: "#9a6700",
          dash: [4, 3],
          points: true,
        },
      ],
    };
  }, [stage.series]);
  const name = `${stage.service} ${stage.stage}`;
  return h(
    "section",
    { class: "dora-stage", "aria-label": `${name} over time` },
    h("h2", null, name),
    h("h3", null, `Deployments and failures by ${bucket}`),
    h(Chart, {
      label: `${name}: deployments and failures by ${bucket}, in the table above as totals`,
      ticks: charts.ticks,
      lines: charts.counts,
      format: formatValue,
    }),
    h("h3", null, `Lead time and time to restore by ${bucket}, in hours`),
    h(Chart, {
      label: `${name}: median lead time and time to restore by ${bucket}, in hours`,
      ticks: charts.ticks,
      lines: charts.times,
      format: formatValue,
    }),
  );
}
