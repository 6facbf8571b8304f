/* global ResizeObserver -- the browser's (the lint's globals are Node's) */
/**
 * A line chart over builds or days, drawn by uPlot into a canvas that follows its box's width.
 * A chart is a picture for those who see it: its label says what it shows, and every page that
 * draws one writes the same figures as text (a table or the heatmap) for everyone else.
 */
import { h } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/**
 * @typedef {{
 *   label: string,
 *   values: (number | null)[],
 *   colour: string,
 *   dash?: number[],
 *   width?: number,
 *   fill?: string,
 *   fillTo?: "bottom" | "top",
 *   points?: boolean,
 *   steps?: boolean,
 * }} Line
 * @typedef {{ from: number, to: number, fill: string }} Band lines' indexes (in `lines`) of the band's upper and lower edges
 */

const HEIGHT = 180;
const stepped = uPlot.paths.stepped?.({ align: 1 });

/**
 * @param {{
 *   label: string,
 *   ticks: string[],
 *   lines: Line[],
 *   bands?: Band[],
 *   format?: (value: number) => string,
 * }} props
 */
export function Chart({ label, ticks, lines, bands = [], format = String }) {
  const box = useRef(/** @type {HTMLDivElement | null} */ (null));

  useEffect(() => {
    const element = box.current;
    if (element === null) return undefined;
    const xs = ticks.map((_, index) => index);
    /** @type {uPlot.Options} */
    const options = {
      width: Math.max(element.clientWidth, 240),
      height: HEIGHT,
      scales: { x: { time: false } },
      // The legend is the page's own list below the canvas: text that wraps on a phone.
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      axes: [
        {
          values: (_self, splits) =>
            splits.map((split) => (Number.isInteger(split) ? (ticks[split] ?? "") : "")),
          space: 70,
        },
        { values: (_self, splits) => splits.map((split) => format(split)), size: 60 },
      ],
      series: [
        { label: "build" },
        ...lines.map((line) => ({
          label: line.label,
          stroke: line.colour,
          width: line.width ?? 1.5,
          spanGaps: true,
          ...(line.dash === undefined ? {} : { dash: line.dash }),
          ...(line.fill === undefined ? {} : { fill: line.fill }),
          ...(line.fillTo === "top"
            ? { fillTo: (/** @type {uPlot} */ self) => self.scales["y"]?.max ?? 0 }
            : line.fillTo === "bottom"
              ? { fillTo: (/** @type {uPlot} */ self) => self.scales["y"]?.min ?? 0 }
              : {}),
          points: { show: line.points ?? false },
          // A threshold holds from its build until the next one's: a step, not a slope.
          ...(line.steps === true ? { paths: stepped } : {}),
        })),
      ],
      bands: bands.map((band) => ({
        series: /** @type {[number, number]} */ ([band.from + 1, band.to + 1]),
        fill: band.fill,
      })),
    };
    const plot = new uPlot(options, [xs, ...lines.map((line) => line.values)], element);
    const resized = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(element.clientWidth, 240), height: HEIGHT }),
    );
    resized.observe(element);
    return () => {
      resized.disconnect();
      plot.destroy();
    };
  }, [ticks, lines, bands, format]);

  return h(
    "figure",
    { class: "chart" },
    h("div", { ref: box, role: "img", "aria-label": label }),
    h(
      "ul",
      { class: "legend", "aria-hidden": "true" },
      lines.map((line) =>
        h(
          "li",
          { key: line.label },
          h("span", {
            class: "swatch",
            style: `border-top: 3px ${line.dash === undefined ? "solid" : "dashed"} ${line.colour}`,
          }),
          line.label,
        ),
      ),
    ),
  );
}
