/* global performance, HTMLElement -- the browser's (the lint's globals are Node's) */
/**
 * A stage's performance signature: the heatmap of SLIs x builds as the gate judged them (as
 * Keptn's Bridge draws it, with a symbol in every cell besides its colour), a trend chart per
 * SLI with its pass and warning thresholds as bands, and what moved between any two builds.
 */
import { h } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { diffSignatures, signatureHeatmap } from "../../api/signatures.js";
import { Chart } from "./chart.js";
import { call, messageOf } from "./client.js";
import { badgeOf } from "./format.js";
import { Problem, StateBadge } from "./parts.js";
import { cellLabel, comparisonPair, formatChange, formatValue, trendOf } from "./signature-model.js";

/** @typedef {import("../../api/signatures.js").SignatureHeatmapView} Heatmap */
/** @typedef {Heatmap["builds"][number]} Build */
/** @typedef {Heatmap["slis"][number]} SliRow */
/** @typedef {Awaited<ReturnType<typeof fetchDiff>>} Diff */
/** @typedef {import("./chart.js").Line} Line */
/** @typedef {import("./chart.js").Band} Band */

const PAGE = 50;
const COLOURS = { value: "#1b1f23", pass: "#1a7f37", warning: "#9a6700", baseline: "#57606a" };

/**
 * @param {string} service
 * @param {string} stage
 * @param {string} a
 * @param {string} b
 */
const fetchDiff = (service, stage, a, b) => call(diffSignatures, { query: { service, stage, a, b } });

/** @param {{ service: string, stage: string }} props */
export function SignaturePage({ service, stage }) {
  const [heatmap, setHeatmap] = useState(/** @type {Heatmap | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState(/** @type {string | null} */ (null));
  const [pair, setPair] = useState(/** @type {{ a: string, b: string } | null} */ (null));

  const load = useCallback(
    /** @param {string | null} before */
    async (before) => {
      setBusy(true);
      try {
        /** @type {Record<string, string>} */
        const query = { service, stage, limit: String(PAGE) };
        if (before !== null) query["before"] = before;
        const page = await call(signatureHeatmap, { query });
        setHeatmap((shown) =>
          shown === null || before === null
            ? page
            : {
                ...page,
                slis: mergeSlis(shown.slis, page.slis),
                builds: [...shown.builds, ...page.builds],
              },
        );
        if (before === null) setPair(comparisonPair(page.builds, null));
        setError(null);
      } catch (failure) {
        setError(messageOf(failure));
      } finally {
        setBusy(false);
      }
    },
    [service, stage],
  );

  useEffect(() => void load(null), [load]);

  // How soon the page shows its data (the browser test reads this).
  useEffect(() => {
    if (heatmap !== null && performance.getEntriesByName("waybill:signature-ready").length === 0) {
      performance.mark("waybill:signature-ready");
    }
  }, [heatmap]);

  /** @param {string} runId */
  const select = (runId) => {
    setSelected(runId);
    if (heatmap !== null) setPair(comparisonPair(heatmap.builds, runId));
  };

  const chosen = heatmap?.builds.find((build) => build.runId === selected);
  return h(
    "section",
    { "aria-labelledby": "signature-title", class: "signature" },
    h("p", null, h("a", { href: "#/" }, "← Pipeline")),
    h("h1", { id: "signature-title" }, `Performance signature: ${service} in ${stage}`),
    error === null ? null : h(Problem, null, error),
    heatmap === null
      ? error === null
        ? h("p", { class: "loading" }, "Loading…")
        : null
      : heatmap.total === 0
        ? h("p", null, `No build has been judged by the quality gate in ${stage} yet.`)
        : [
            h(
              "p",
              { key: "count", class: "note" },
              `${heatmap.builds.length} of ${heatmap.total} builds, newest on the right. `,
              "Choose a build by its column's heading to compare it with the build before it; ",
              "in the grid, the arrow keys move between cells and Enter chooses a cell's build.",
            ),
            h(HeatmapGrid, { key: "grid", heatmap, selected, onSelect: select }),
            heatmap.next === null
              ? null
              : h(
                  "button",
                  { key: "older", type: "button", disabled: busy, onClick: () => void load(heatmap.next) },
                  `Show ${Math.min(PAGE, heatmap.total - heatmap.builds.length)} older builds`,
                ),
            chosen === undefined
              ? null
              : h(BuildDetail, { key: "detail", build: chosen, slis: heatmap.slis }),
            h(Comparison, { key: "compare", service, stage, builds: heatmap.builds, pair, onPair: setPair }),
            h(Trends, { key: "trends", heatmap }),
          ],
  );
}

/**
 * @param {SliRow[]} shown
 * @param {SliRow[]} more
 */
function mergeSlis(shown, more) {
  const known = new Set(shown.map((row) => row.sli));
  return [...shown, ...more.filter((row) => !known.has(row.sli))];
}

/**
 * The grid: a row per SLI under the builds' results, a column per build, oldest on the left.
 * One cell is in the tab order at a time; the arrow keys, Home and End move among them.
 * @param {{ heatmap: Heatmap, selected: string | null, onSelect: (runId: string) => void }} props
 */
function HeatmapGrid({ heatmap, selected, onSelect }) {
  const columns = useMemo(() => [...heatmap.builds].reverse(), [heatmap.builds]);
  const scroller = useRef(/** @type {HTMLDivElement | null} */ (null));
  // The newest builds are on the right: that is where the reader starts.
  useEffect(() => {
    const element = scroller.current;
    if (element !== null) element.scrollLeft = element.scrollWidth;
  }, []);
  const [active, setActive] = useState({ row: 0, column: columns.length - 1 });
  const rows = heatmap.slis.length + 2;

  /** @param {KeyboardEvent} event */
  const onKeyDown = (event) => {
    const target = event.target;
    if (!(target instanceof HTMLElement) || target.dataset["row"] === undefined) return;
    const row = Number(target.dataset["row"]);
    const column = Number(target.dataset["column"]);
    /** @type {Record<string, [number, number]>} */
    const moves = {
      ArrowLeft: [row, column - 1],
      ArrowRight: [row, column + 1],
      ArrowUp: [row - 1, column],
      ArrowDown: [row + 1, column],
      Home: [row, 0],
      End: [row, columns.length - 1],
    };
    const move = moves[event.key];
    if (move !== undefined) {
      event.preventDefault();
      const next = { row: clamp(move[0], rows - 1), column: clamp(move[1], columns.length - 1) };
      setActive(next);
      const table = target.closest("table");
      const cell = table?.querySelector(`[data-row="${next.row}"][data-column="${next.column}"]`);
      if (cell instanceof HTMLElement) cell.focus();
    } else if ((event.key === "Enter" || event.key === " ") && row > 0) {
      event.preventDefault();
      const build = columns[column];
      if (build !== undefined) onSelect(build.runId);
    }
  };
  /**
   * @param {number} row
   * @param {number} column
   */
  const focusable = (row, column) => ({
    "data-row": row,
    "data-column": column,
    tabIndex: active.row === row && active.column === column ? 0 : -1,
    onFocus: () => setActive({ row, column }),
  });

  return h(
    "div",
    { class: "heatmap-scroll", ref: scroller },
    h(
      "table",
      { class: "heatmap", role: "grid", "aria-label": "SLIs by build", onKeyDown },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "col" }, "SLI"),
          columns.map((build, column) =>
            h(
              "th",
              {
                key: build.runId,
                scope: "col",
                class: build.runId === selected ? "selected" : undefined,
                "aria-selected": build.runId === selected ? "true" : "false",
              },
              h(
                "button",
                {
                  type: "button",
                  class: "build",
                  title: `${build.version} (${build.runId}), ${build.recordedAt}`,
                  "aria-label": `Choose build ${build.version} (${build.runId})`,
                  "aria-pressed": build.runId === selected ? "true" : "false",
                  onClick: () => onSelect(build.runId),
                  ...focusable(0, column),
                },
                build.version,
              ),
            ),
          ),
        ),
      ),
      h(
        "tbody",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "row" }, "Result"),
          columns.map((build, column) => {
            const badge = badgeOf(build.result);
            return h(
              "td",
              {
                key: build.runId,
                role: "gridcell",
                class: `cell tone-${badge.tone}${build.runId === selected ? " selected" : ""}`,
                "aria-label": `${build.version}: ${build.result}, score ${formatValue(build.score)}`,
                "aria-selected": build.runId === selected ? "true" : "false",
                title: `${build.version}: ${build.result}, score ${formatValue(build.score)}`,
                onClick: () => onSelect(build.runId),
                ...focusable(1, column),
              },
              h("span", { "aria-hidden": "true" }, `${badge.icon} ${formatValue(build.score)}`),
            );
          }),
        ),
        heatmap.slis.map((sli, index) =>
          h(
            "tr",
            { key: sli.sli },
            h(
              "th",
              { scope: "row" },
              sli.displayName,
              sli.keySli ? h("span", { class: "key" }, " (key)") : null,
            ),
            columns.map((build, column) => {
              const cell = build.cells[sli.sli];
              const badge = cell === undefined ? null : badgeOf(cell.status);
              const label = cellLabel(sli.sli, build.version, cell);
              return h(
                "td",
                {
                  key: build.runId,
                  role: "gridcell",
                  class: `cell tone-${badge?.tone ?? "none"}${build.runId === selected ? " selected" : ""}`,
                  "aria-label": label,
                  "aria-selected": build.runId === selected ? "true" : "false",
                  title: label,
                  onClick: () => onSelect(build.runId),
                  ...focusable(index + 2, column),
                },
                h(
                  "span",
                  { "aria-hidden": "true" },
                  badge === null ? "·" : `${badge.icon} ${formatValue(cell?.value)}`,
                ),
              );
            }),
          ),
        ),
      ),
    ),
  );
}

/**
 * @param {number} value
 * @param {number} max
 */
function clamp(value, max) {
  return Math.min(Math.max(value, 0), max);
}

/** @param {{ build: Build, slis: SliRow[] }} props */
function BuildDetail({ build, slis }) {
  const reasons = Object.entries(build.noValueReasons);
  return h(
    "section",
    { class: "build-detail", "aria-labelledby": "build-detail-title" },
    h("h2", { id: "build-detail-title" }, `Build ${build.version}`),
    h(
      "p",
      null,
      h(StateBadge, { state: build.result }),
      ` score ${formatValue(build.score)} · run `,
      h("a", { href: `#/runs/${encodeURIComponent(build.runId)}` }, build.runId),
      ` · judged ${build.recordedAt}`,
    ),
    h(
      "ul",
      null,
      slis.map((sli) =>
        h("li", { key: sli.sli }, cellLabel(sli.displayName, build.version, build.cells[sli.sli])),
      ),
      reasons.map(([sli, reason]) => h("li", { key: `no-${sli}` }, `${sli} had no value: ${reason}`)),
    ),
  );
}

/**
 * Any two builds side by side: what moved most first, and whether the judge calls it significant.
 * @param {{ service: string, stage: string, builds: Build[], pair: { a: string, b: string } | null, onPair: (pair: { a: string, b: string }) => void }} props
 */
function Comparison({ service, stage, builds, pair, onPair }) {
  const [diff, setDiff] = useState(/** @type {Diff | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));

  useEffect(() => {
    if (pair === null) return;
    let current = true;
    fetchDiff(service, stage, pair.a, pair.b)
      .then((answer) => {
        if (!current) return;
        setDiff(answer);
        setError(null);
      })
      .catch((/** @type {unknown} */ failure) => current && setError(messageOf(failure)));
    return () => {
      current = false;
    };
  }, [service, stage, pair?.a, pair?.b]);

  if (pair === null) return null;
  const versionOf = (/** @type {string} */ runId) =>
    builds.find((build) => build.runId === runId)?.version ?? runId;
  /** @param {"a" | "b"} side */
  const picker = (side) =>
    h(
      "label",
      null,
      side === "a" ? "Before (A) " : "After (B) ",
      h(
        "select",
        {
          value: pair[side],
          onChange: (/** @type {Event} */ event) => {
            const value = /** @type {HTMLSelectElement} */ (event.currentTarget).value;
            onPair({ ...pair, [side]: value });
          },
        },
        builds.map((build) =>
          h(
            "option",
            { key: build.runId, value: build.runId },
            `${build.version} (${build.runId}, ${build.result})`,
          ),
        ),
      ),
    );
  const top = diff?.changes[0];
  return h(
    "section",
    { class: "comparison", "aria-labelledby": "comparison-title" },
    h("h2", { id: "comparison-title" }, "Compare two builds"),
    h("div", { class: "pickers" }, picker("a"), picker("b")),
    error === null ? null : h(Problem, null, error),
    diff === null
      ? null
      : [
          h(
            "p",
            { key: "summary", role: "status" },
            top === undefined
              ? "Neither build has SLI values."
              : `From ${versionOf(pair.a)} to ${versionOf(pair.b)}, ${top.sli} moved most: ${formatChange(top.absolute, top.relativePct)}.`,
          ),
          h(
            "div",
            { key: "table", class: "table-scroll" },
            h(
              "table",
              { class: "changes" },
              h(
                "caption",
                null,
                `What moved from ${versionOf(pair.a)} (A) to ${versionOf(pair.b)} (B), most first`,
              ),
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  ["SLI", "A", "B", "Change", "Significant?"].map((name) =>
                    h("th", { key: name, scope: "col" }, name),
                  ),
                ),
              ),
              h(
                "tbody",
                null,
                diff.changes.map((change) =>
                  h(
                    "tr",
                    { key: change.sli },
                    h("th", { scope: "row" }, change.sli),
                    h("td", { class: "number" }, formatValue(change.a)),
                    h("td", { class: "number" }, formatValue(change.b)),
                    h("td", { class: "number" }, formatChange(change.absolute, change.relativePct)),
                    h("td", null, significance(change.significant, change.classification)),
                  ),
                ),
              ),
            ),
          ),
          h(
            "p",
            { key: "why", class: "note" },
            "Only the overall latencies are judged for significance: the request samples they need are kept for them alone.",
          ),
        ],
  );
}

/**
 * @param {boolean | null} significant
 * @param {string | null} classification
 */
function significance(significant, classification) {
  if (significant === null) return "not judged";
  const verdict = classification === null ? "" : ` (${classification})`;
  return significant ? `⚠ yes${verdict}` : `✓ no${verdict}`;
}

/** @param {{ heatmap: Heatmap }} props */
function Trends({ heatmap }) {
  return h(
    "section",
    { class: "trends", "aria-labelledby": "trends-title" },
    h("h2", { id: "trends-title" }, "Trends over builds"),
    h(
      "p",
      { class: "note" },
      "Each SLI's value (solid), its baseline (grey dashes), and the pass (green) and warning (amber) thresholds as bands; the heatmap above holds the same figures as text.",
    ),
    heatmap.slis.map((sli) => h(Trend, { key: sli.sli, builds: heatmap.builds, sli })),
  );
}

/** @param {{ builds: Build[], sli: SliRow }} props */
function Trend({ builds, sli }) {
  const trend = useMemo(() => trendOf(builds, sli.sli), [builds, sli.sli]);
  const chart = useMemo(() => {
    const towards = trend.better === "higher" ? "top" : "bottom";
    /** @type {Line[]} */
    const lines = [
      {
        label: "pass threshold",
        values: trend.pass,
        colour: COLOURS.pass,
        dash: [6, 3],
        fill: "rgba(26,127,55,0.12)",
        fillTo: towards,
        steps: true,
      },
      {
        label: "warning threshold",
        values: trend.warning,
        colour: COLOURS.warning,
        dash: [2, 3],
        steps: true,
      },
      { label: "baseline", values: trend.baseline, colour: COLOURS.baseline, dash: [4, 4], width: 1 },
      {
        label: sli.displayName,
        values: trend.values,
        colour: COLOURS.value,
        width: 2,
        points: trend.values.length <= 60,
      },
    ];
    /** @type {Band[]} */
    const bands = trend.warning.some((value) => value !== null)
      ? [
          trend.better === "higher"
            ? { from: 0, to: 1, fill: "rgba(154,103,0,0.14)" }
            : { from: 1, to: 0, fill: "rgba(154,103,0,0.14)" },
        ]
      : [];
    return { lines, bands };
  }, [trend, sli.displayName]);
  const newest = builds[0]?.cells[sli.sli];
  const side = newest?.better === "higher" ? "over" : "under";
  return h(
    "div",
    { class: "trend" },
    h("h3", null, sli.displayName),
    h(Chart, {
      label: `${sli.displayName} over ${trend.versions.length} builds, oldest first`,
      ticks: trend.versions,
      lines: chart.lines,
      bands: chart.bands,
      format: formatValue,
    }),
    newest === undefined
      ? null
      : h(
          "p",
          { class: "note" },
          `Newest: ${formatValue(newest.value)} (${newest.status})`,
          newest.passThreshold === null ? "" : `; pass ${side} ${formatValue(newest.passThreshold)}`,
          newest.warningThreshold === null ? "" : `, warning ${side} ${formatValue(newest.warningThreshold)}`,
          ".",
        ),
  );
}
