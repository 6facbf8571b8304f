/** Small pieces the pages share: a state's badge, table headings, and the Approve and Reject buttons. */
import { h } from "preact";
import { useState } from "preact/hooks";
import { roles } from "../../api/contract.js";
import { approveRun, rejectRun } from "../../api/runs.js";
import { call, messageOf } from "./client.js";
import { badgeOf } from "./format.js";

/** @param {{ state: string }} props */
export function StateBadge({ state }) {
  const badge = badgeOf(state);
  return h(
    "span",
    { class: `badge tone-${badge.tone}` },
    h("span", { class: "icon", "aria-hidden": "true" }, badge.icon),
    " ",
    badge.label,
  );
}

/**
 * A table's column headings, each announced as one.
 * @param {{ titles: readonly string[] }} props
 */
export function ColumnHeads({ titles }) {
  return h(
    "thead",
    null,
    h(
      "tr",
      null,
      titles.map((title) => h("th", { scope: "col", key: title }, title)),
    ),
  );
}

/** @param {import("../../api/contract.js").Role} role */
export function mayApprove(role) {
  return roles.indexOf(role) >= roles.indexOf("approver");
}

/**
 * Approve, or reject with an optional reason, a run that waits for approval. Shown to approvers
 * only; the API refuses anyone else anyway.
 * @param {{ run: { id: string, version: string, stage: string }, onDecided: () => void }} props
 */
export function Decision({ run, onDecided }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [reason, setReason] = useState("");
  /** @param {boolean} approve */
  const decide = async (approve) => {
    setBusy(true);
    setError(null);
    try {
      if (approve) await call(approveRun, { params: { id: run.id }, body: {} });
      else {
        const given = reason.trim();
        await call(rejectRun, { params: { id: run.id }, body: given === "" ? {} : { reason: given } });
      }
      onDecided();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  const reasonId = `reason-${run.id}`;
  return h(
    "div",
    { class: "decision", role: "group", "aria-label": `Decision on ${run.version} to ${run.stage}` },
    h(
      "button",
      { type: "button", class: "approve", disabled: busy, onClick: () => void decide(true) },
      h("span", { "aria-hidden": "true" }, "✓ "),
      `Approve ${run.version} to ${run.stage}`,
    ),
    h(
      "div",
      { class: "reject" },
      h("label", { for: reasonId }, "Reason to reject (optional)"),
      h("input", {
        id: reasonId,
        type: "text",
        maxLength: 2000,
        value: reason,
        onInput: (event) => setReason(event.currentTarget.value),
      }),
      h(
        "button",
        { type: "button", class: "reject-button", disabled: busy, onClick: () => void decide(false) },
        h("span", { "aria-hidden": "true" }, "✗ "),
        `Reject ${run.version}`,
      ),
    ),
    error === null ? null : h("p", { role: "alert", class: "error" }, error),
  );
}

/** @param {{ children: import("preact").ComponentChildren }} props */
export function Problem({ children }) {
  return h("p", { role: "alert", class: "error" }, children);
}
