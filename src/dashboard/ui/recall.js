/* global location -- the browser's (the lint's globals are Node's) */
/**
 * Recall (`#/recall`, `#/recall?q=<query>`): every deployment, current and past, that carries a
 * package in a purl range (`pkg:npm/lodash@<4.17.21`) or is affected by an advisory. An admin may
 * redeploy a fixed version to every stage that runs an affected build, after confirming; the API
 * refuses anyone else anyway.
 */
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { findRecall, redeployRecall } from "../../api/recall.js";
import { call, messageOf } from "./client.js";
import { evidenceHref } from "./evidence.js";
import { ColumnHeads, Problem, StateBadge } from "./parts.js";

/** @typedef {import("../../api/recall.js").RecallView} RecallView */
/** @typedef {import("../../api/runs.js").RunView} RunView */

/** @param {{ query: string, session: import("../../api/session.js").SessionView }} props */
export function RecallPage({ query, session }) {
  const [typed, setTyped] = useState(query);
  const [result, setResult] = useState(/** @type {RecallView | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setTyped(query);
    if (query === "") {
      setResult(null);
      return;
    }
    let current = true;
    setBusy(true);
    setError(null);
    call(findRecall, { query: { q: query } })
      .then((answer) => current && setResult(answer))
      .catch((/** @type {unknown} */ failure) => {
        if (!current) return;
        setResult(null);
        setError(messageOf(failure));
      })
      .finally(() => current && setBusy(false));
    return () => {
      current = false;
    };
  }, [query]);

  /** @param {Event} event */
  const search = (event) => {
    event.preventDefault();
    const wanted = typed.trim();
    // The query lives in the address, so a search can be linked to and comes back on reload.
    if (wanted !== "") location.hash = `#/recall?q=${encodeURIComponent(wanted)}`;
  };

  const current = result?.matches.filter((match) => match.until === null) ?? [];
  return h(
    "section",
    { "aria-labelledby": "recall-title" },
    h("h1", { id: "recall-title" }, "Recall"),
    h(
      "form",
      { class: "recall-search", role: "search", onSubmit: search },
      h("label", { for: "recall-query" }, "Package URL range or advisory id"),
      h(
        "p",
        { id: "recall-help", class: "note" },
        "For example ",
        h("code", null, "pkg:npm/lodash@<4.17.21"),
        ", ",
        h("code", null, "pkg:npm/express"),
        " or ",
        h("code", null, "GHSA-35jh-r3h4-6jhm"),
        ".",
      ),
      h(
        "div",
        { class: "search-row" },
        h("input", {
          id: "recall-query",
          type: "search",
          required: true,
          autoComplete: "off",
          "aria-describedby": "recall-help",
          value: typed,
          onInput: (event) => setTyped(event.currentTarget.value),
        }),
        h("button", { type: "submit", disabled: busy }, "Search"),
      ),
    ),
    error === null ? null : h(Problem, null, error),
    busy ? h("p", { class: "loading", role: "status" }, "Searching…") : null,
    result === null ? null : h(Matches, { result }),
    result !== null && session.role === "admin" && current.length > 0
      ? h(Redeploy, { query: result.query, services: [...new Set(current.map((match) => match.service))] })
      : null,
  );
}

/** @param {{ result: RecallView }} props */
function Matches({ result }) {
  const { matches, advisory, drift } = result;
  return h(
    "section",
    { "aria-labelledby": "matches-title" },
    h(
      "h2",
      { id: "matches-title" },
      `${matches.length} deployment${matches.length === 1 ? "" : "s"} carry ${result.query}`,
    ),
    advisory === null
      ? null
      : h(
          "p",
          null,
          "Advisory ",
          h("strong", null, advisory.id),
          advisory.aliases.length === 0 ? "" : ` (also ${advisory.aliases.join(", ")})`,
        ),
    matches.length === 0
      ? h("p", null, "No deployment, current or past, carries it.")
      : h(
          "div",
          { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "matches-title" },
          h(
            "table",
            { class: "matches" },
            h(ColumnHeads, { titles: ["Service / stage", "Target", "Version", "Package", "From", "Now"] }),
            h(
              "tbody",
              null,
              matches.map((match) =>
                h(
                  "tr",
                  { key: `${match.service}-${match.stage}-${match.target}-${match.from}-${match.component}` },
                  h("th", { scope: "row" }, `${match.service} / ${match.stage}`),
                  h("td", null, match.target),
                  h(
                    "td",
                    null,
                    h(
                      "a",
                      {
                        href: evidenceHref(match.digest),
                        "aria-label": `Evidence of ${match.service} ${match.version}`,
                      },
                      match.version,
                    ),
                  ),
                  h("td", null, h("code", null, match.component)),
                  h(
                    "td",
                    null,
                    h("time", { dateTime: match.from }, match.from.replace("T", " ").slice(0, 19)),
                  ),
                  h(
                    "td",
                    null,
                    match.until === null
                      ? h(StateBadge, { state: "released" })
                      : [
                          "replaced ",
                          h("time", { dateTime: match.until }, match.until.replace("T", " ").slice(0, 19)),
                        ],
                  ),
                ),
              ),
            ),
          ),
        ),
    drift.length === 0
      ? null
      : h(
          "div",
          { class: "drift" },
          h("h3", null, "Integrity drift"),
          h(
            "ul",
            null,
            drift.map((entry) =>
              h(
                "li",
                { key: entry.purl },
                h("span", { "aria-hidden": "true" }, "⚠ "),
                h("code", null, entry.purl),
                ` is recorded with ${entry.variants.length} different content hashes`,
              ),
            ),
          ),
        ),
  );
}

/**
 * Ships a fixed version, from its first stage, of every service that runs an affected build now
 * @param {{ query: string, services: string[] }} props
 */
function Redeploy({ query, services }) {
  const [version, setVersion] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [runs, setRuns] = useState(/** @type {RunView[] | null} */ (null));
  const confirmButton = useRef(/** @type {HTMLButtonElement | null} */ (null));

  // The question takes the keyboard's focus, so Enter or Space answers it.
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  const redeploy = async () => {
    setBusy(true);
    setError(null);
    try {
      setRuns((await call(redeployRecall, { body: { q: query, version: version.trim() } })).runs);
      setConfirming(false);
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  const wanted = version.trim();
  return h(
    "section",
    { "aria-labelledby": "redeploy-title", class: "redeploy" },
    h("h2", { id: "redeploy-title" }, "Redeploy a fixed version"),
    h(
      "p",
      { class: "note" },
      `Ships the version you name of ${services.join(", ")} from its first stage, to replace every affected build running now.`,
    ),
    h(
      "form",
      {
        onSubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          if (wanted !== "") setConfirming(true);
        },
      },
      h("label", { for: "redeploy-version" }, "Fixed version"),
      h(
        "div",
        { class: "search-row" },
        h("input", {
          id: "redeploy-version",
          type: "text",
          required: true,
          autoComplete: "off",
          value: version,
          disabled: confirming,
          onInput: (event) => {
            setVersion(event.currentTarget.value);
            setRuns(null);
          },
        }),
        confirming ? null : h("button", { type: "submit", class: "danger" }, "Redeploy…"),
      ),
    ),
    confirming
      ? h(
          "div",
          { class: "confirm", role: "alertdialog", "aria-labelledby": "confirm-text" },
          h(
            "p",
            { id: "confirm-text" },
            h("span", { "aria-hidden": "true" }, "⚠ "),
            `Ship ${wanted} of ${services.join(", ")} through every stage, replacing the builds that carry ${query}?`,
          ),
          h(
            "button",
            {
              type: "button",
              class: "danger",
              ref: confirmButton,
              disabled: busy,
              onClick: () => void redeploy(),
            },
            `Confirm: redeploy ${wanted}`,
          ),
          h("button", { type: "button", disabled: busy, onClick: () => setConfirming(false) }, "Cancel"),
        )
      : null,
    error === null ? null : h(Problem, null, error),
    runs === null
      ? null
      : h(
          "div",
          { role: "status" },
          h("p", null, `Started ${runs.length} run${runs.length === 1 ? "" : "s"}:`),
          h(
            "ul",
            null,
            runs.map((run) =>
              h(
                "li",
                { key: run.id },
                h("a", { href: `#/runs/${encodeURIComponent(run.id)}` }, run.id),
                ` ${run.service} ${run.version} to ${run.stage}`,
              ),
            ),
          ),
        ),
  );
}
