/* global setInterval, clearInterval, performance, document -- the browser's (the lint's globals are Node's) */
/**
 * The pipeline: each service's stages left to right, what is live, what runs, what waits.
 *
 * It polls `GET /v1/status` rather than following a stream. A status-level stream would read the
 * same rows: the server's streams poll the store themselves (`run-stream.ts`), since another
 * replica may append the events, so it would move the same reads from the page's clock to the
 * server's and hold a connection per open page. One run stream per active stage is no answer
 * either: a browser holds at most six HTTP/1.1 connections to a host, and a pipeline with more
 * running stages would starve the page's own requests. The Run page, which follows one run,
 * does use its stream. A hidden tab does not poll; it reads again as soon as it is shown.
 */
import { h } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { getRun } from "../../api/runs.js";
import { STATUS_PAGE, allStatusPages, getStatus } from "../../api/status.js";
import { call, messageOf } from "./client.js";
import { formatAgo } from "./format.js";
import { Decision, mayApprove, Problem, StateBadge } from "./parts.js";
import { evidenceHref } from "./evidence.js";

/** @typedef {import("../../api/status.js").StatusView} StatusView */
/** @typedef {StatusView["services"][number]["stages"][number]} Stage */
/** @typedef {Awaited<ReturnType<typeof fetchRun>>} RunDetail */

const REFRESH_MS = 2000;

/** @param {string} id */
const fetchRun = (id) => call(getRun, { params: { id } });

/** @param {{ session: import("../../api/session.js").SessionView }} props */
export function PipelinePage({ session }) {
  const [status, setStatus] = useState(/** @type {StatusView | null} */ (null));
  const [runs, setRuns] = useState(/** @type {Map<string, RunDetail>} */ (new Map()));
  const [error, setError] = useState(/** @type {string | null} */ (null));

  const refresh = useCallback(async () => {
    try {
      const next = await allStatusPages((after) =>
        call(getStatus, {
          query: { limit: String(STATUS_PAGE.max), ...(after === undefined ? {} : { after }) },
        }),
      );
      const active = next.services
        .flatMap((service) => service.stages)
        .filter(
          (stage) =>
            stage.runId !== null && (stage.state === "running" || stage.state === "waiting-approval"),
        );
      const details = await Promise.all(active.map((stage) => fetchRun(stage.runId ?? "")));
      setRuns(new Map(details.map((run) => [run.id, run])));
      setStatus(next);
      setError(null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, []);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void refresh();
    }, REFRESH_MS);
    const shown = () => {
      if (document.visibilityState === "visible") void refresh();
    };
    document.addEventListener("visibilitychange", shown);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", shown);
    };
  }, [refresh]);

  // The first page is interactive once the pipeline's data is on it (the browser test reads this).
  useEffect(() => {
    if (status !== null && performance.getEntriesByName("waybill:interactive").length === 0) {
      performance.mark("waybill:interactive");
    }
  }, [status]);

  return h(
    "section",
    { "aria-labelledby": "pipeline-title" },
    h("h1", { id: "pipeline-title" }, "Pipeline"),
    error === null ? null : h(Problem, null, error),
    status === null
      ? h("p", { class: "loading" }, "Loading…")
      : status.services.length === 0
        ? h("p", null, "No service has been shipped yet: ", h("code", null, "waybill ship <dir>"), ".")
        : status.services.map((service) =>
            h(
              "section",
              { class: "service", key: service.name, "aria-labelledby": `service-${service.name}` },
              h("h2", { id: `service-${service.name}` }, service.name),
              h(
                "ol",
                { class: "stages", "aria-label": `Stages of ${service.name}, in order` },
                service.stages.map((stage) =>
                  h(StageCard, {
                    key: stage.name,
                    service: service.name,
                    stage,
                    run: stage.runId === null ? undefined : runs.get(stage.runId),
                    canApprove: mayApprove(session.role),
                    onDecided: () => void refresh(),
                  }),
                ),
              ),
            ),
          ),
  );
}

/** @param {{ service: string, stage: Stage, run: RunDetail | undefined, canApprove: boolean, onDecided: () => void }} props */
function StageCard({ service, stage, run, canApprove, onDecided }) {
  const now = Date.now();
  /** @type {Stage["targets"][number] | undefined} */
  let live;
  for (const target of stage.targets)
    if (live === undefined || target.releasedAt > live.releasedAt) live = target;
  const id = `stage-${service}-${stage.name}`;
  return h(
    "li",
    { class: `stage tone-${stage.state}`, "aria-labelledby": id },
    h("h3", { id }, stage.name),
    h(StateBadge, { state: stage.state }),
    h(
      "dl",
      null,
      h("dt", null, "Live"),
      h(
        "dd",
        null,
        live === undefined
          ? "nothing yet"
          : [
              h(
                "a",
                { href: evidenceHref(live.digest), title: `Evidence of ${service} ${live.version}` },
                h("strong", null, live.version),
              ),
              " since ",
              h(
                "time",
                { dateTime: live.releasedAt, title: live.releasedAt },
                formatAgo(live.releasedAt, now),
              ),
            ],
      ),
      stage.runId === null
        ? null
        : [
            h("dt", null, "Run"),
            h(
              "dd",
              null,
              h("a", { href: `#/runs/${encodeURIComponent(stage.runId)}` }, stage.runId),
              run === undefined ? null : ` (${run.version})`,
            ),
          ],
      run === undefined || run.task === null || run.state !== "running"
        ? null
        : [h("dt", null, "Task"), h("dd", null, run.task)],
      run?.progress === undefined
        ? null
        : [h("dt", null, "Progress"), h("dd", { class: "progress" }, run.progress)],
      stage.reason === null || stage.state !== "failed"
        ? null
        : [h("dt", null, "Why"), h("dd", null, stage.reason)],
      stage.queued.length === 0
        ? null
        : [h("dt", null, "Queued"), h("dd", null, stage.queued.map((queued) => queued.version).join(", "))],
      stage.url === null
        ? null
        : [h("dt", null, "URL"), h("dd", null, h("a", { href: stage.url, class: "url" }, stage.url))],
    ),
    h(
      "a",
      {
        class: "signature-link",
        href: `#/signature/${encodeURIComponent(service)}/${encodeURIComponent(stage.name)}`,
        "aria-label": `Performance signature of ${stage.name}`,
      },
      "Performance signature",
    ),
    stage.state === "waiting-approval" && run !== undefined && run.state === "waiting-approval"
      ? canApprove
        ? h(Decision, { run, onDecided })
        : h("p", { class: "note" }, "Waits for an approver.")
      : null,
  );
}
