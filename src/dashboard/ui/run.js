/* global EventSource -- the browser's (the lint's globals are Node's) */
/**
 * One run: its tasks with their durations, the gate's table, why it failed, the evidence checked
 * before its deploy, and its log. While the run goes on, its new events arrive by server-sent
 * events (`GET /v1/runs/:id/stream`), and the page updates without reloading.
 */
import { h } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { pathFor } from "../../api/contract.js";
import { eventSchema, getRun, runSchema } from "../../api/runs.js";
import { streamRun } from "../../api/stream.js";
import { call, messageOf } from "./client.js";
import { describeRequirement, eventKind, formatDuration, settled, taskTimeline } from "./format.js";
import { Decision, mayApprove, Problem, StateBadge } from "./parts.js";

/** @typedef {Awaited<ReturnType<typeof fetchRun>>} RunDetail */
/** @typedef {NonNullable<RunDetail["evaluation"]>["evaluation"]["objectives"][number]} Objective */
/** @typedef {import("./format.js").TaskSpan} TaskSpan */

/** @param {string} id */
const fetchRun = (id) => call(getRun, { params: { id } });

/** @param {{ id: string, session: import("../../api/session.js").SessionView }} props */
export function RunPage({ id, session }) {
  const [run, setRun] = useState(/** @type {RunDetail | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [live, setLive] = useState(false);

  const load = useCallback(async () => {
    try {
      setRun(await fetchRun(id));
      setError(null);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  const following = run !== null && !settled(run.state);
  useEffect(() => {
    if (!following) return undefined;
    const source = new EventSource(pathFor(streamRun.path, { id }));
    source.onopen = () => setLive(true);
    source.onerror = () => setLive(false);
    source.addEventListener("event", (message) => {
      const event = eventSchema.parse(JSON.parse(message.data));
      setRun((current) =>
        current === null || current.events.some((known) => known.id === event.id)
          ? current
          : { ...current, events: [...current.events, event] },
      );
      // The gate's table comes with the run: its verdict is worth one more read.
      if (eventKind(event.type) === "evaluation.recorded") void load();
    });
    source.addEventListener("run", (message) => {
      const view = runSchema.parse(JSON.parse(message.data));
      setRun((current) => (current === null ? current : { ...current, ...view, progress: view.progress }));
    });
    source.addEventListener("end", () => {
      source.close();
      setLive(false);
      void load();
    });
    return () => source.close();
  }, [id, following, load]);

  if (run === null) {
    return h(
      "section",
      null,
      h("h1", null, `Run ${id}`),
      error === null ? h("p", { class: "loading" }, "Loading…") : h(Problem, null, error),
    );
  }
  const tasks = taskTimeline(run.events);
  return h(
    "section",
    { "aria-labelledby": "run-title" },
    h("p", null, h("a", { href: "#/" }, "← Pipeline")),
    h("h1", { id: "run-title" }, `Run ${run.id}`),
    h(
      "p",
      { class: "summary" },
      h(StateBadge, { state: run.state }),
      ` ${run.service} ${run.version} to ${run.stage}`,
      run.result === null ? null : [" · gate ", h(StateBadge, { state: run.result })],
      following
        ? h("span", { class: "live", role: "status" }, live ? " · following live" : " · connecting…")
        : null,
    ),
    error === null ? null : h(Problem, null, error),
    run.state === "waiting-approval"
      ? mayApprove(session.role)
        ? h(Decision, { run, onDecided: () => void load() })
        : h("p", { class: "note" }, "Waits for an approver.")
      : null,
    run.state === "running" && run.task !== null
      ? h(
          "p",
          { class: "progress" },
          `Now: ${run.task}`,
          run.progress === undefined ? "" : ` — ${run.progress}`,
        )
      : null,
    run.reason !== null && (run.state === "failed" || run.result === "fail")
      ? h("div", { class: "failure", role: "note" }, h("h2", null, "Why it failed"), h("p", null, run.reason))
      : null,
    h(Tasks, { tasks, now: Date.now() }),
    h(Gate, { evaluation: run.evaluation }),
    h(Evidence, { tasks }),
    h(Log, { events: run.events }),
  );
}

/** @param {{ tasks: TaskSpan[], now: number }} props */
function Tasks({ tasks, now }) {
  return h(
    "section",
    { "aria-labelledby": "tasks-title" },
    h("h2", { id: "tasks-title" }, "Tasks"),
    tasks.length === 0
      ? h("p", null, "No task has started yet.")
      : h(
          "ol",
          { class: "timeline" },
          tasks.map((span, index) =>
            h(
              "li",
              { key: `${span.task}-${index}`, class: "task" },
              h(StateBadge, { state: span.state }),
              " ",
              h("strong", null, span.task),
              span.attempt > 1 ? ` (attempt ${span.attempt})` : "",
              " — ",
              span.finishedAt === null
                ? `running for ${formatDuration(now - Date.parse(span.startedAt))}`
                : formatDuration(Date.parse(span.finishedAt) - Date.parse(span.startedAt)),
              span.reason === null ? null : h("p", { class: "reason" }, span.reason),
            ),
          ),
        ),
  );
}

/** @param {Objective} objective */
function criteriaOf(objective) {
  const pass = objective.passTargets.map((target) => target.criteria).join(" and ");
  const warning = objective.warningTargets.map((target) => target.criteria).join(" and ");
  return [pass === "" ? "" : `pass ${pass}`, warning === "" ? "" : `warning ${warning}`]
    .filter((part) => part !== "")
    .join("; ");
}

/** @param {number | undefined} value */
function number(value) {
  if (value === undefined) return "—";
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** @param {{ evaluation: RunDetail["evaluation"] }} props */
function Gate({ evaluation }) {
  if (evaluation === null) {
    return h(
      "section",
      { "aria-labelledby": "gate-title" },
      h("h2", { id: "gate-title" }, "Quality gate"),
      h("p", null, "No gate verdict for this run."),
    );
  }
  const verdict = evaluation.evaluation;
  const thresholds =
    verdict.totalScore.warning === undefined
      ? `pass from ${verdict.totalScore.pass}%`
      : `pass from ${verdict.totalScore.pass}%, warning from ${verdict.totalScore.warning}%`;
  return h(
    "section",
    { "aria-labelledby": "gate-title" },
    h("h2", { id: "gate-title" }, "Quality gate"),
    h(
      "div",
      { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "gate-title" },
      h(
        "table",
        null,
        h(
          "caption",
          null,
          h(StateBadge, { state: verdict.result }),
          ` score ${number(verdict.score)} (${thresholds})`,
        ),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["SLI", "Value", "Baseline", "Criteria", "Status", "Score"].map((title) =>
              h("th", { scope: "col", key: title }, title),
            ),
          ),
        ),
        h(
          "tbody",
          null,
          verdict.objectives.map((objective) =>
            h(
              "tr",
              { key: objective.sli },
              h(
                "th",
                { scope: "row" },
                objective.displayName || objective.sli,
                objective.keySli ? " (key)" : "",
              ),
              h("td", { class: "number" }, number(objective.value.value)),
              h("td", { class: "number" }, number(objective.value.comparedValue)),
              h("td", null, criteriaOf(objective) || "—"),
              h("td", null, h(StateBadge, { state: objective.status })),
              h("td", { class: "number" }, `${number(objective.score)} / ${number(objective.weight)}`),
            ),
          ),
        ),
      ),
    ),
  );
}

/** @param {{ tasks: TaskSpan[] }} props */
function Evidence({ tasks }) {
  const artifact = tasks.findLast((span) => span.task === "verify-artifact");
  const evidence = tasks.findLast((span) => span.task === "verify-evidence");
  const verified = evidence?.output?.["verified"];
  const digest = artifact?.output?.["digest"];
  /** @type {import("preact").ComponentChildren[]} */
  const items = [];
  if (artifact !== undefined) {
    items.push(
      h(
        "li",
        { key: "artifact" },
        h(StateBadge, { state: artifact.state === "succeeded" ? "verified" : artifact.state }),
        " artifact digest ",
        typeof digest === "string" ? h("code", null, digest) : null,
      ),
    );
  }
  if (evidence?.state === "failed") {
    items.push(
      h(
        "li",
        { key: "denied" },
        h(StateBadge, { state: "failed" }),
        ` stage policy: ${evidence.reason ?? "denied"}`,
      ),
    );
  } else if (Array.isArray(verified)) {
    verified.forEach((requirement, index) =>
      items.push(
        h("li", { key: index }, h(StateBadge, { state: "verified" }), ` ${describeRequirement(requirement)}`),
      ),
    );
  } else if (evidence !== undefined) {
    items.push(h("li", { key: "policy" }, h(StateBadge, { state: evidence.state }), " stage policy"));
  }
  return h(
    "section",
    { "aria-labelledby": "evidence-title" },
    h("h2", { id: "evidence-title" }, "Evidence checked before the deploy"),
    items.length === 0
      ? h("p", null, "This stage checks no evidence before it deploys.")
      : h("ul", { class: "evidence" }, items),
  );
}

/** @param {{ events: import("../../api/runs.js").EventView[] }} props */
function Log({ events }) {
  return h(
    "details",
    { class: "log" },
    h("summary", null, `Event log (${events.length})`),
    h(
      "ol",
      null,
      events.map((event) =>
        h(
          "li",
          { key: event.id },
          h("time", { dateTime: event.time }, event.time.slice(11, 19)),
          " ",
          h("code", null, eventKind(event.type)),
        ),
      ),
    ),
  );
}
