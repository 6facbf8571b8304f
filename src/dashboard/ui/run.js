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
import { ColumnHeads, Decision, Problem, StateBadge, mayApprove } from "./parts.js";
import { evidenceHref } from "./evidence.js";
import { canaryPanel, confirmation, rightsizingPanel, securityBudgetPanel } from "./run-panels.js";

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
      ` ${run.service} ${run.version} to ${run.stage} · `,
      h(
        "a",
        { href: `#/signature/${encodeURIComponent(run.service)}/${encodeURIComponent(run.stage)}` },
        `Performance signature of ${run.stage}`,
      ),
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
    h(Canary, { tasks }),
    h(SecurityBudget, { run }),
    h(Rightsizing, { run }),
    h(Evidence, { tasks, digest: run.digest }),
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
        h(ColumnHeads, { titles: ["SLI", "Value", "Baseline", "Criteria", "Status", "Score"] }),
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

/** @param {{ tasks: TaskSpan[], digest: string }} props */
function Evidence({ tasks, digest: runDigest }) {
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
        typeof digest === "string" ? h("a", { href: evidenceHref(digest) }, h("code", null, digest)) : null,
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
    h("p", null, h("a", { href: evidenceHref(runDigest) }, "All evidence of this artifact")),
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

/** @param {number | null} value */
function ms(value) {
  return value === null ? "—" : value.toFixed(2);
}

/**
 * The canary's steps, each with its share of the traffic and its verdict, when the run had one
 * @param {{ tasks: TaskSpan[] }} props
 */
function Canary({ tasks }) {
  const canary = canaryPanel(tasks);
  if (canary === null) return null;
  return h(
    "section",
    { "aria-labelledby": "canary-title" },
    h("h2", { id: "canary-title" }, "Canary"),
    h(
      "p",
      null,
      h(StateBadge, { state: canary.state }),
      ` ${canary.steps.length} step${canary.steps.length === 1 ? "" : "s"}`,
    ),
    canary.steps.length === 0
      ? null
      : h(
          "div",
          { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "canary-title" },
          h(
            "table",
            null,
            h(ColumnHeads, {
              titles: ["Step", "Target", "Canary weight", "Held for", "Verdict", "Score", "Why"],
            }),
            h(
              "tbody",
              null,
              canary.steps.map((step, index) =>
                h(
                  "tr",
                  { key: `${step.target}-${index}` },
                  h("th", { scope: "row" }, String(index + 1)),
                  h("td", null, step.target),
                  h("td", { class: "number" }, step.weight === null ? "—" : `${step.weight}%`),
                  h("td", { class: "number" }, step.interval ?? "—"),
                  h("td", null, h(StateBadge, { state: step.verdict })),
                  h("td", { class: "number" }, step.score === null ? "—" : String(step.score)),
                  h("td", null, step.reason || "—"),
                ),
              ),
            ),
          ),
        ),
    canary.failure === null
      ? null
      : h("p", { class: "reason" }, h(StateBadge, { state: "fail" }), ` ${canary.failure}`),
  );
}

/**
 * Where the latency went with mutual TLS, as a share of the SLO's latency budget
 * @param {{ run: RunDetail }} props
 */
function SecurityBudget({ run }) {
  const budget = securityBudgetPanel(run.events, run.evaluation?.evaluation.objectives ?? []);
  if (budget === null) return null;
  const shareTitle =
    budget.budget === null ? "Of the budget" : `Of the ${budget.budget.sli} budget (${budget.budget.ms} ms)`;
  return h(
    "section",
    { "aria-labelledby": "security-title" },
    h("h2", { id: "security-title" }, "Security budget"),
    h(
      "p",
      { class: "note" },
      `Mutual TLS, measured on the same version with and without it (${budget.samples.plain} + ${budget.samples.secured} requests).`,
    ),
    h(
      "div",
      { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "security-title" },
      h(
        "table",
        null,
        h(ColumnHeads, { titles: ["Part", "p50 ms", "p99 ms", shareTitle] }),
        h(
          "tbody",
          null,
          budget.rows.map((row) =>
            h(
              "tr",
              { key: row.part },
              h("th", { scope: "row" }, row.part),
              h("td", { class: "number" }, ms(row.p50)),
              h("td", { class: "number" }, ms(row.p99)),
              h(
                "td",
                { class: "number" },
                row.share === null
                  ? "—"
                  : h(
                      "span",
                      { class: "share" },
                      `${row.share}%`,
                      h("span", {
                        class: "bar",
                        "aria-hidden": "true",
                        style: { width: `${Math.min(100, row.share)}%` },
                      }),
                    ),
              ),
            ),
          ),
        ),
      ),
    ),
    h(
      "p",
      { class: "note" },
      `TLS added p50 ${ms(budget.addedP50.estimate)} ms [${ms(budget.addedP50.low)}, ${ms(budget.addedP50.high)}], p99 ${ms(budget.addedP99.estimate)} ms [${ms(budget.addedP99.low)}, ${ms(budget.addedP99.high)}] (95% intervals).`,
    ),
  );
}

/**
 * The rightsizing experiment's steps and the minimum environment it found
 * @param {{ run: RunDetail }} props
 */
function Rightsizing({ run }) {
  const report = rightsizingPanel(run.events);
  if (report === null) return null;
  /**
   * @param {Record<string, number> | null} slis
   * @param {string} name
   */
  const sli = (slis, name) => {
    const value = slis?.[name];
    return value === undefined ? "—" : String(Math.round(value * 10) / 10);
  };
  return h(
    "section",
    { "aria-labelledby": "rightsizing-title" },
    h("h2", { id: "rightsizing-title" }, "Minimum environment"),
    h(
      "p",
      { class: "note" },
      `Rightsizing ${report.stage} on ${report.target}, against the declared cpu ${report.declared.cpu}, memory ${report.declared.memory}.`,
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Recommended"),
      h(
        "dd",
        null,
        h("strong", null, `cpu ${report.recommended.cpu}, memory ${report.recommended.memory}`),
        ` (+${Math.round(report.margin * 100)}% margin; ${confirmation(report.recommended)})`,
      ),
      h("dt", null, "Proven minimum"),
      h("dd", null, `cpu ${report.provenMinimum.cpu}, memory ${report.provenMinimum.memory}`),
      h("dt", null, "Usage-based"),
      h(
        "dd",
        null,
        report.usageBased === null
          ? "no usage was sampled"
          : `cpu ${report.usageBased.cpu}, memory ${report.usageBased.memory} (${report.usageBased.method}; not checked against the SLOs)`,
      ),
      h("dt", null, "Saving"),
      h("dd", null, `cpu ${report.saving.cpuPct}%, memory ${report.saving.memoryPct}% of the declared size`),
      report.bounds.stoppedEarly === null
        ? null
        : [h("dt", null, "Stopped early"), h("dd", null, report.bounds.stoppedEarly)],
    ),
    h(
      "div",
      { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "rightsizing-title" },
      h(
        "table",
        null,
        h(ColumnHeads, {
          titles: ["Step", "Trying", "CPU", "Memory", "p95 trial / declared (ms)", "Errors %", "Verdict"],
        }),
        h(
          "tbody",
          null,
          report.steps.map((step, index) =>
            h(
              "tr",
              { key: index },
              h("th", { scope: "row" }, String(index + 1)),
              h("td", null, step.phase),
              h("td", null, step.size.cpu),
              h("td", null, step.size.memory),
              h(
                "td",
                { class: "number" },
                `${sli(step.trial, "latency_p95")} / ${sli(step.reference, "latency_p95")}`,
              ),
              h("td", { class: "number" }, sli(step.trial, "error_rate")),
              h(
                "td",
                null,
                h(StateBadge, { state: step.passed ? "pass" : "fail" }),
                step.passed ? null : h("p", { class: "reason" }, step.reason),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
