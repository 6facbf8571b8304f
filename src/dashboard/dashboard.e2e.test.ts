/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a real
 * control plane that shipped the example through the real CLI: an admin logs in with the token,
 * reads the pipeline and the run, and approves production from the page while the run page
 * follows it live, then follows the next ship's run while it is in progress; a viewer sees no
 * Approve button and is refused when forging one; a cookie without its CSRF token is refused. It saves the screenshots README.md shows, and prints how
 * soon the first page is interactive (not asserted: it is a measure, not a test of speed).
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { cleanUp, runCli, scratchExample } from "../testing/cli.js";
import { tokensForEveryRole } from "../testing/role-matrix.js";
import { CHROMIUM, assertBrowserReady, logIn as logInAt, screenshotsDir } from "./e2e.test.helpers.js";

const screenshots = screenshotsDir();
const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });

let browser: Browser;
let url = "";
let tokens: ReturnType<typeof tokensForEveryRole>;

before(() => {
  assertBrowserReady();
  mkdirSync(scratch.stateDir, { recursive: true });
  tokens = tokensForEveryRole(scratch.stateDir);
});

after(async () => {
  await browser?.close();
  await cli(["down"]);
  cleanUp(scratch.root);
});

const logIn = (page: Page, token: string) => logInAt(page, url, token);

/** A POST from the page's own session, as a script on the page (or a forger with the cookie) would send it */
function postFromPage(page: Page, path: string, withCsrf: boolean) {
  return page.evaluate(
    async ({ path, withCsrf }) => {
      const session = (await (await fetch("/v1/session")).json()) as { csrf: string };
      const response = await fetch(path, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(withCsrf ? { "x-waybill-csrf": session.csrf } : {}),
        },
        body: "{}",
      });
      return {
        status: response.status,
        detail: ((await response.json()) as { detail?: string }).detail ?? "",
      };
    },
    { path, withCsrf },
  );
}

test(
  "ship the example, log in, read the pipeline and the run, approve from the page, follow a run live; a viewer cannot approve",
  { timeout: 600_000 },
  async () => {
    const shipped = await cli(["ship", "hello", "--version", "1.0.0"]);
    assert.equal(shipped.code, 0, shipped.stdout + shipped.stderr);
    assert.match(shipped.stdout, /waiting for approval/);
    url = (JSON.parse(readFileSync(join(scratch.stateDir, "control-plane.json"), "utf8")) as { url: string })
      .url;
    const status = (await (
      await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${tokens.admin}` } })
    ).json()) as { services: { stages: { name: string; runId: string | null }[] }[] };
    const productionRun = status.services[0]?.stages.find((stage) => stage.name === "production")?.runId;
    assert.ok(productionRun, "production has a run");

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const admin = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const streams: string[] = [];
    admin.on("request", (request) => {
      if (request.url().endsWith("/stream")) streams.push(request.url());
    });

    // A client that asks for JSON still gets the API's index at /.
    const index = await fetch(`${url}/`, { headers: { accept: "application/json" } });
    assert.equal(((await index.json()) as { name: string }).name, "waybill");

    await logIn(admin, tokens.admin);
    const production = admin
      .getByRole("listitem")
      .filter({ has: admin.getByRole("heading", { name: "production" }) });
    await production.getByText("waiting for approval").waitFor();
    for (const stage of ["dev", "staging"]) {
      const card = admin.getByRole("listitem").filter({ has: admin.getByRole("heading", { name: stage }) });
      await card.getByText("1.0.0").first().waitFor();
      assert.match(await card.innerText(), /live/);
    }
    assert.ok(await production.getByRole("link", { name: productionRun }).isVisible());
    assert.ok(await production.getByRole("button", { name: "Approve 1.0.0 to production" }).isVisible());

    // The first page, loaded again with the session: how soon its data is on it and it answers.
    await admin.reload();
    await admin.waitForFunction(() => performance.getEntriesByName("waybill:interactive").length > 0);
    const interactiveMs = await admin.evaluate(
      () => performance.getEntriesByName("waybill:interactive")[0]?.startTime ?? Number.NaN,
    );
    console.log(
      `# dashboard: the pipeline page was interactive ${interactiveMs.toFixed(0)} ms after navigation`,
    );
    await production.getByRole("button", { name: "Approve 1.0.0 to production" }).waitFor();
    mkdirSync(screenshots, { recursive: true });
    await admin.screenshot({ path: join(screenshots, "pipeline.png"), fullPage: true });

    // A phone's width: the stages stack, and nothing spills sideways.
    await admin.setViewportSize({ width: 390, height: 844 });
    // Evaluated in the page, where the DOM is (this program has no DOM types).
    const overflow = Number(await admin.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
    assert.ok(overflow <= 0, `the pipeline is ${overflow}px wider than a phone's screen`);
    await admin.screenshot({ path: join(screenshots, "pipeline-phone.png"), fullPage: true });
    await admin.setViewportSize({ width: 1280, height: 800 });

    // A cookie without its CSRF token changes nothing.
    const noCsrf = await postFromPage(admin, `/v1/runs/${productionRun}/approve`, false);
    assert.equal(noCsrf.status, 403);
    assert.match(noCsrf.detail, /CSRF token/);

    // A viewer sees the same pipeline without the buttons, and the API refuses a forged approval.
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(viewer, tokens.viewer);
    const viewersProduction = viewer
      .getByRole("listitem")
      .filter({ has: viewer.getByRole("heading", { name: "production" }) });
    await viewersProduction.getByText("Waits for an approver.").waitFor();
    assert.equal(await viewer.getByRole("button", { name: /Approve/ }).count(), 0);
    assert.equal(await viewer.getByRole("button", { name: /Reject/ }).count(), 0);
    assert.match(await viewer.getByText("viewer (viewer)").innerText(), /viewer/);
    const forged = await postFromPage(viewer, `/v1/runs/${productionRun}/approve`, true);
    assert.equal(forged.status, 403);
    assert.match(forged.detail, /needs the approver role; your token has viewer/);

    // The run page: tasks, the gate's table, the evidence checked before the deploy.
    await production.getByRole("link", { name: productionRun }).click();
    await admin.getByRole("heading", { name: `Run ${productionRun}` }).waitFor();
    const gate = admin.getByRole("table");
    await gate.getByRole("rowheader", { name: /latency_p95/ }).waitFor();
    assert.match(await gate.innerText(), /error_rate/);
    const tasksText = await admin.locator("ol.timeline").innerText();
    assert.match(tasksText, /verify-evidence/);
    assert.match(tasksText, /\d+(\.\d)? (ms|s)/);
    const evidence = await admin
      .getByRole("region", { name: "Evidence checked before the deploy" })
      .innerText();
    assert.match(evidence, /sbom/);
    assert.match(evidence, /slo-evaluation/);
    await admin.getByText("following live").waitFor();
    await admin.screenshot({ path: join(screenshots, "run.png"), fullPage: true });

    // Approve from the page, by keyboard; the page follows the run to its end without a reload.
    await admin.getByRole("button", { name: "Approve 1.0.0 to production" }).focus();
    await admin.keyboard.press("Enter");
    await admin.locator(".summary").getByText("succeeded").waitFor({ timeout: 120_000 });
    assert.ok(streams.length > 0, "the run page followed the run over server-sent events");
    assert.match(await admin.locator("ol.timeline").innerText(), /release/);

    await admin.getByRole("link", { name: "← Pipeline" }).click();
    await production.locator(".badge", { hasText: "live" }).waitFor();
    assert.match(await production.innerText(), /1\.0\.0/);

    // A run in progress: the pipeline shows its task, and its page follows it to its end.
    const second = cli(["ship", "hello", "--version", "2.0.0"]);
    const staging = admin
      .getByRole("listitem")
      .filter({ has: admin.getByRole("heading", { name: "staging" }) });
    await staging.locator(".badge", { hasText: "running" }).waitFor({ timeout: 120_000 });
    assert.match(await staging.innerText(), /Task\s+\S+/);
    await staging.getByRole("link", { name: /^r-/ }).click();
    await admin.getByText("following live").waitFor();
    await admin
      .locator(".summary")
      .getByText(/succeeded|waiting for approval/)
      .waitFor({ timeout: 120_000 });
    assert.match(await admin.locator("ol.timeline").innerText(), /evaluate/);
    const shippedAgain = await second;
    assert.equal(shippedAgain.code, 0, shippedAgain.stdout + shippedAgain.stderr);
  },
);
