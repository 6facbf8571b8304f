/**
 * An artifact's evidence (`#/artifacts/<digest>`): each attestation with its signer, whether it
 * verifies and what it says; the signed SBOM's components, filtered on the server and paged so a
 * large SBOM stays quick; the signed scan's findings with the advisory database's age; and where
 * the artifact ran.
 */
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { getEvidence, getEvidenceVulnerabilities, listEvidenceComponents } from "../../api/evidence.js";
import { call, messageOf } from "./client.js";
import { formatAgo } from "./format.js";
import { ColumnHeads, Problem, StateBadge } from "./parts.js";
import { predicateLabel } from "./run-panels.js";

/** @typedef {import("../../api/evidence.js").EvidenceView} EvidenceView */
/** @typedef {import("../../api/evidence.js").EvidenceComponentsView} ComponentsView */
/** @typedef {import("../../api/evidence.js").EvidenceVulnerabilitiesView} VulnerabilitiesView */

const PAGE = 50;
/** How long the filter waits for typing to pause before it asks the server */
const FILTER_PAUSE_MS = 250;

/**
 * Where an artifact's evidence page is
 * @param {string} digest
 */
export function evidenceHref(digest) {
  return `#/artifacts/${encodeURIComponent(digest)}`;
}

/** @param {{ digest: string }} props */
export function EvidencePage({ digest }) {
  const [report, setReport] = useState(/** @type {EvidenceView | null} */ (null));
  const [scan, setScan] = useState(/** @type {VulnerabilitiesView | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));

  useEffect(() => {
    Promise.all([
      call(getEvidence, { params: { ref: digest }, query: { format: "json" } }),
      call(getEvidenceVulnerabilities, { params: { ref: digest } }),
    ])
      .then(([evidence, vulnerabilities]) => {
        setReport(evidence);
        setScan(vulnerabilities);
      })
      .catch((/** @type {unknown} */ failure) => setError(messageOf(failure)));
  }, [digest]);

  if (report === null || scan === null) {
    return h(
      "section",
      null,
      h("h1", null, "Evidence"),
      h("p", null, h("code", null, digest)),
      error === null ? h("p", { class: "loading" }, "Loading…") : h(Problem, null, error),
    );
  }
  const { artifact } = report;
  return h(
    "section",
    { "aria-labelledby": "evidence-page-title", class: "evidence-page" },
    h("p", null, h("a", { href: "#/" }, "← Pipeline"), " · ", h("a", { href: "#/recall" }, "Recall")),
    h("h1", { id: "evidence-page-title" }, `Evidence of ${artifact.service} ${artifact.version}`),
    h("p", { class: "digest" }, "Artifact ", h("code", null, artifact.digest)),
    h(Attestations, { attestations: report.attestations }),
    h(Components, { digest: artifact.digest }),
    h(Vulnerabilities, { scan }),
    h(Deployments, { deployments: report.deployments }),
  );
}

/** @param {{ attestations: EvidenceView["attestations"] }} props */
function Attestations({ attestations }) {
  return h(
    "section",
    { "aria-labelledby": "attestations-title" },
    h("h2", { id: "attestations-title" }, `Attestations (${attestations.length})`),
    attestations.length === 0
      ? h("p", null, "Nothing has been attested about this artifact.")
      : h(
          "div",
          { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "attestations-title" },
          h(
            "table",
            null,
            h(ColumnHeads, { titles: ["Predicate", "Stage", "Signed by", "Verifies", "Says", "Recorded"] }),
            h(
              "tbody",
              null,
              attestations.map((attestation, index) =>
                h(
                  "tr",
                  { key: `${attestation.predicateType}-${attestation.recordedAt}-${index}` },
                  h(
                    "th",
                    { scope: "row", title: attestation.predicateType },
                    predicateLabel(attestation.predicateType),
                  ),
                  h("td", null, attestation.stage ?? "the artifact"),
                  h(
                    "td",
                    null,
                    attestation.signedBy.length === 0 ? "no trusted key" : attestation.signedBy.join(", "),
                  ),
                  h(
                    "td",
                    null,
                    h(StateBadge, { state: attestation.valid ? "verified" : "failed" }),
                    attestation.valid || !attestation.reason
                      ? null
                      : h("p", { class: "reason" }, attestation.reason),
                  ),
                  h("td", null, attestation.summary ?? "—"),
                  h(
                    "td",
                    null,
                    h(
                      "time",
                      { dateTime: attestation.recordedAt, title: attestation.recordedAt },
                      formatAgo(attestation.recordedAt, Date.now()),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
  );
}

/** @param {{ digest: string }} props */
function Components({ digest }) {
  const [typed, setTyped] = useState("");
  const [filter, setFilter] = useState("");
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState(/** @type {ComponentsView | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));

  useEffect(() => {
    const timer = setTimeout(() => {
      setFilter(typed);
      setOffset(0);
    }, FILTER_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [typed]);

  useEffect(() => {
    let current = true;
    call(listEvidenceComponents, {
      params: { ref: digest },
      query: { filter, offset: String(offset), limit: String(PAGE) },
    })
      .then((answer) => {
        if (!current) return;
        setPage(answer);
        setError(null);
      })
      .catch((/** @type {unknown} */ failure) => current && setError(messageOf(failure)));
    return () => {
      current = false;
    };
  }, [digest, filter, offset]);

  const last = page === null ? 0 : Math.min(page.offset + page.components.length, page.matched);
  return h(
    "section",
    { "aria-labelledby": "components-title" },
    h(
      "h2",
      { id: "components-title" },
      page === null ? "SBOM components" : `SBOM components (${page.total})`,
    ),
    page?.sbom === null
      ? h("p", null, "No SBOM has been recorded for this artifact.")
      : page?.sbom?.valid === false
        ? h(
            "p",
            { class: "error" },
            `The SBOM recorded ${page.sbom.recordedAt} does not verify, so its components are not listed: ${page.sbom.reason ?? ""}`,
          )
        : null,
    h(
      "form",
      { class: "filter", role: "search", onSubmit: (/** @type {Event} */ event) => event.preventDefault() },
      h("label", { for: "component-filter" }, "Filter components by package URL"),
      h("input", {
        id: "component-filter",
        type: "search",
        placeholder: "e.g. lodash or pkg:npm/@scope",
        autoComplete: "off",
        value: typed,
        onInput: (event) => setTyped(event.currentTarget.value),
      }),
    ),
    error === null ? null : h(Problem, null, error),
    page === null
      ? h("p", { class: "loading" }, "Loading…")
      : h(
          "div",
          null,
          h(
            "p",
            { role: "status", class: "note" },
            page.matched === 0
              ? filter === ""
                ? "No components."
                : `No component matches “${filter}”.`
              : `Showing ${page.offset + 1}–${last} of ${page.matched}${filter === "" ? "" : ` matching “${filter}”`}`,
          ),
          page.components.length === 0
            ? null
            : h(
                "div",
                { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "components-title" },
                h(
                  "table",
                  { class: "components" },
                  h(ColumnHeads, { titles: ["Package URL", "Name", "Version", "Scope"] }),
                  h(
                    "tbody",
                    null,
                    page.components.map((component) =>
                      h(
                        "tr",
                        { key: component.purl },
                        h("th", { scope: "row" }, h("code", null, component.purl)),
                        h("td", null, component.name),
                        h("td", null, component.version),
                        h("td", null, component.scope ?? "—"),
                      ),
                    ),
                  ),
                ),
              ),
          h(
            "nav",
            { class: "pager", "aria-label": "Pages of components" },
            h(
              "button",
              {
                type: "button",
                disabled: page.offset === 0,
                onClick: () => setOffset(Math.max(0, page.offset - PAGE)),
              },
              "← Previous components",
            ),
            h(
              "button",
              {
                type: "button",
                disabled: last >= page.matched,
                onClick: () => setOffset(page.offset + PAGE),
              },
              "Next components →",
            ),
          ),
        ),
  );
}

/** @param {{ scan: VulnerabilitiesView }} props */
function Vulnerabilities({ scan }) {
  const database = scan.database;
  return h(
    "section",
    { "aria-labelledby": "vulns-title" },
    h("h2", { id: "vulns-title" }, `Vulnerability findings (${scan.findings.length})`),
    scan.scan === null
      ? h("p", null, "No vulnerability scan has been recorded for this artifact.")
      : scan.scan.valid === false
        ? h(
            "p",
            { class: "error" },
            `The scan does not verify, so its findings are not listed: ${scan.scan.reason ?? ""}`,
          )
        : h(
            "div",
            null,
            h(
              "p",
              { class: "scan-meta" },
              `Scanned ${scan.scannedAt ?? "at an unknown time"} by ${scan.scanner?.uri ?? "?"} ${scan.scanner?.version ?? ""}. `,
              database === null
                ? null
                : database.lastUpdate === null
                  ? h("strong", null, "The advisory database held no advisories, so nothing was checked. ")
                  : [
                      "Advisory database: newest advisory ",
                      h("time", { dateTime: database.lastUpdate }, database.lastUpdate.slice(0, 10)),
                      ", ",
                      h(
                        "strong",
                        null,
                        database.ageDaysAtScan === null
                          ? "age unknown"
                          : `${database.ageDaysAtScan} day${database.ageDaysAtScan === 1 ? "" : "s"} old at the scan`,
                      ),
                      ` (${Object.entries(database.advisories)
                        .map(([ecosystem, count]) => `${count} ${ecosystem}`)
                        .join(", ")} advisories). `,
                    ],
            ),
            scan.notScanned.length === 0
              ? null
              : h(
                  "p",
                  { class: "warning-note" },
                  h("span", { "aria-hidden": "true" }, "⚠ "),
                  `Not scanned, no advisories loaded: ${scan.notScanned
                    .map((entry) => `${entry.ecosystem} (${entry.packages} packages)`)
                    .join(", ")}.`,
                ),
            scan.findings.length === 0
              ? h(
                  "p",
                  null,
                  h(StateBadge, { state: "pass" }),
                  " No known vulnerability in the scanned packages.",
                )
              : h(
                  "div",
                  { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "vulns-title" },
                  h(
                    "table",
                    null,
                    h(ColumnHeads, { titles: ["Advisory", "Severity", "CVSS v3"] }),
                    h(
                      "tbody",
                      null,
                      scan.findings.map((finding) =>
                        h(
                          "tr",
                          { key: finding.id },
                          h(
                            "th",
                            { scope: "row" },
                            h("a", { href: `#/recall?q=${encodeURIComponent(finding.id)}` }, finding.id),
                          ),
                          h("td", { class: `severity severity-${finding.severity}` }, finding.severity),
                          h(
                            "td",
                            { class: "number" },
                            finding.score === null ? "—" : finding.score.toFixed(1),
                          ),
                        ),
                      ),
                    ),
                  ),
                ),
          ),
  );
}

/** @param {{ deployments: EvidenceView["deployments"] }} props */
function Deployments({ deployments }) {
  return h(
    "section",
    { "aria-labelledby": "deployments-title" },
    h("h2", { id: "deployments-title" }, `Where it ran (${deployments.length})`),
    deployments.length === 0
      ? h("p", null, "This artifact has not been deployed.")
      : h(
          "div",
          { class: "table-scroll", tabIndex: 0, role: "region", "aria-labelledby": "deployments-title" },
          h(
            "table",
            null,
            h(ColumnHeads, { titles: ["Stage", "Target", "From", "Until"] }),
            h(
              "tbody",
              null,
              deployments.map((deployment) =>
                h(
                  "tr",
                  { key: `${deployment.stage}-${deployment.target}-${deployment.from}` },
                  h("th", { scope: "row" }, `${deployment.service} / ${deployment.stage}`),
                  h("td", null, deployment.target),
                  h(
                    "td",
                    null,
                    h("time", { dateTime: deployment.from }, deployment.from.replace("T", " ").slice(0, 19)),
                  ),
                  h(
                    "td",
                    null,
                    deployment.until === null
                      ? h(StateBadge, { state: "released" })
                      : h(
                          "time",
                          { dateTime: deployment.until },
                          deployment.until.replace("T", " ").slice(0, 19),
                        ),
                  ),
                ),
              ),
            ),
          ),
        ),
  );
}
