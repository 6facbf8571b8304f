/* global document, location, addEventListener, removeEventListener -- the browser's (the lint's globals are Node's) */
/**
 * The dashboard's shell: the login, the header with who is logged in, and the pages, chosen by
 * the URL's hash (`#/` the pipeline, `#/runs/<id>` a run, `#/signature/<service>/<stage>` a
 * stage's performance signature, `#/dora` DORA's four keys, `#/artifacts/<digest>` an artifact's
 * evidence, `#/recall?q=<query>` recall), so the server serves one page.
 */
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { createSession, deleteSession, getSession } from "../../api/session.js";
import { ApiError, call, messageOf, onUnauthorized, useCsrfToken } from "./client.js";
import { PipelinePage } from "./pipeline.js";
import { RunPage } from "./run.js";
import { SignaturePage } from "./signature.js";
import { DoraPage } from "./dora.js";
import { EvidencePage } from "./evidence.js";
import { RecallPage } from "./recall.js";
import { Problem } from "./parts.js";

/** @typedef {import("../../api/session.js").SessionView} SessionView */
/** @typedef {{ kind: "loading" } | { kind: "login", error: string | null } | { kind: "in", session: SessionView }} Phase */

/**
 * @param {string} hash
 * @returns {{ page: "pipeline" } | { page: "run", id: string } | { page: "signature", service: string, stage: string } | { page: "dora" } | { page: "evidence", digest: string } | { page: "recall", query: string }}
 */
function routeOf(hash) {
  const signature = /^#\/signature\/([^/]+)\/([^/]+)$/.exec(hash);
  if (signature?.[1] !== undefined && signature[2] !== undefined) {
    return {
      page: "signature",
      service: decodeURIComponent(signature[1]),
      stage: decodeURIComponent(signature[2]),
    };
  }
  if (hash === "#/dora") return { page: "dora" };
  const artifact = /^#\/artifacts\/([^/]+)$/.exec(hash);
  if (artifact?.[1] !== undefined) return { page: "evidence", digest: decodeURIComponent(artifact[1]) };
  const recall = /^#\/recall(?:\?q=(.*))?$/.exec(hash);
  if (recall !== null) return { page: "recall", query: decodeURIComponent(recall[1] ?? "") };
  const run = /^#\/runs\/([^/]+)$/.exec(hash);
  return run?.[1] === undefined ? { page: "pipeline" } : { page: "run", id: decodeURIComponent(run[1]) };
}

export function App() {
  const [phase, setPhase] = useState(/** @type {Phase} */ ({ kind: "loading" }));
  const [hash, setHash] = useState(location.hash);

  useEffect(() => {
    onUnauthorized(() =>
      setPhase({ kind: "login", error: "Your session has ended: paste your token again." }),
    );
    const follow = () => setHash(location.hash);
    addEventListener("hashchange", follow);
    call(getSession)
      .then((session) => {
        useCsrfToken(session.csrf);
        setPhase({ kind: "in", session });
      })
      .catch((/** @type {unknown} */ failure) =>
        setPhase({
          kind: "login",
          error: failure instanceof ApiError && failure.status === 401 ? null : messageOf(failure),
        }),
      );
    return () => removeEventListener("hashchange", follow);
  }, []);

  if (phase.kind === "loading") return h("p", { class: "loading" }, "Loading…");
  if (phase.kind === "login") {
    return h(Login, {
      error: phase.error,
      onLoggedIn: (session) => {
        useCsrfToken(session.csrf);
        setPhase({ kind: "in", session });
      },
    });
  }
  const session = phase.session;
  const route = routeOf(hash);
  const logOut = async () => {
    await call(deleteSession).catch(() => undefined);
    useCsrfToken(null);
    setPhase({ kind: "login", error: null });
  };
  return h(
    "div",
    { class: "shell" },
    h("a", { class: "skip", href: "#main", onClick: skipToMain }, "Skip to the content"),
    h(
      "header",
      null,
      h("a", { class: "brand", href: "#/" }, "Waybill"),
      h(
        "nav",
        { "aria-label": "Pages" },
        h("a", { href: "#/", "aria-current": route.page === "pipeline" ? "page" : undefined }, "Pipeline"),
        h("a", { href: "#/dora", "aria-current": route.page === "dora" ? "page" : undefined }, "DORA"),
        h("a", { href: "#/recall", "aria-current": route.page === "recall" ? "page" : undefined }, "Recall"),
      ),
      h(
        "p",
        { class: "who" },
        `${session.name} (${session.role}) `,
        h("button", { type: "button", onClick: () => void logOut() }, "Log out"),
      ),
    ),
    h(
      "main",
      { id: "main", tabIndex: -1 },
      route.page === "signature"
        ? h(SignaturePage, {
            key: `${route.service}/${route.stage}`,
            service: route.service,
            stage: route.stage,
          })
        : route.page === "dora"
          ? h(DoraPage, null)
          : route.page === "evidence"
            ? h(EvidencePage, { key: route.digest, digest: route.digest })
            : route.page === "recall"
              ? h(RecallPage, { query: route.query, session })
              : route.page === "run"
                ? h(RunPage, { key: route.id, id: route.id, session })
                : h(PipelinePage, { session }),
    ),
  );
}

/**
 * The skip link moves focus without changing the hash, which chooses the page
 * @param {Event} event
 */
function skipToMain(event) {
  event.preventDefault();
  document.getElementById("main")?.focus();
}

/** @param {{ error: string | null, onLoggedIn: (session: SessionView) => void }} props */
function Login({ error, onLoggedIn }) {
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState(error);
  const [busy, setBusy] = useState(false);
  /** @param {Event} event */
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      onLoggedIn(await call(createSession, { body: { token: token.trim() } }));
    } catch (failure) {
      setProblem(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  return h(
    "main",
    { class: "login" },
    h("h1", null, "Waybill"),
    h(
      "form",
      { onSubmit: (/** @type {Event} */ event) => void submit(event) },
      h("label", { for: "token" }, "API token"),
      h(
        "p",
        { id: "token-help", class: "note" },
        "Paste it once: the browser keeps a session, not the token. The admin token is in <state>/token; ",
        h("code", null, "waybill tokens create"),
        " makes others.",
      ),
      h("input", {
        id: "token",
        name: "token",
        type: "password",
        autoComplete: "off",
        required: true,
        "aria-describedby": "token-help",
        value: token,
        onInput: (event) => setToken(event.currentTarget.value),
      }),
      h("button", { type: "submit", disabled: busy }, "Log in"),
      problem === null ? null : h(Problem, null, problem),
    ),
  );
}
