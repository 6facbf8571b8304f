/**
 * The performance signature and DORA pages in a real browser (Debian's Chromium) against a real
 * control plane that shipped the example twice through the real CLI: the heatmap of SLIs x builds
 * with its keyboard path, the trends, a comparison of two builds, DORA's table and charts, at a
 * desktop's and a phone's width; a viewer reads them too. Then a stage gets 1,000 builds of
 * history (judged by the real gate, appended through the store) and the test prints how soon the
 * first page and the signature page show their data: a measure, not a test of speed.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { openSqliteStore } from "../store/sqlite-store.js";
import { cleanUp, runCli, scratchExample } from "../testing/cli.js";
import { tokensForEveryRole } from "../testing/role-matrix.js";
import { signatureHistory } from "../testing/signature-history.js";
import {
  assertBrowserReady,
  controlPlaneUrl,
  launchChromium,
  logIn,
  overflowOf,
  screenshotsDir,
} from "./e2e.test.helpers.js";

const screenshots = screenshotsDir();
const scratch = scratchExample("hello");
const cli = (args: string[]) => runCli(args, { stateDir: scratch.stateDir, cwd: scratch.root });
const SEEDED = 1000;

let browser: Browser | undefined;
let url = "";
let tokens: ReturnType<typeof tokensForEveryRole>;

before(() => {
  assertBrowserReady();
  mkdirSync(scratch.stateDir, { recursive: true });
  mkdirSync(screenshots, { recursive: true });
  tokens = tokensForEveryRole(scratch.stateDir);
});

after(async () => {
  await browser?.close();
  await cli(["down"]);
  cleanUp(scratch.root);
});

async function productionRun(): Promise<string> {
  const status = (await (
    await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${tokens.admin}` } })
  ).json()) as { services: { stages: { name: string; runId: string | null }[] }[] };
  const runId = status.services[0]?.stages.find((stage) => stage.name === "production")?.runId;
  assert.ok(runId, "production has a run");
  return runId;
}

async function atPhoneWidth(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await overflowOf(page);
  assert.ok(overflow <= 0, `${name} is ${overflow}px wider than a phone's screen`);
  await page.screenshot({ path: join(screenshots, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** The accessible label of what has the focus (read in the page, where the DOM is) */
async function focusedLabel(page: Page): Promise<string> {
  return String(await page.evaluate("document.activeElement?.getAttribute('aria-label') ?? ''"));
}

/** Picks a build by its version in one of the comparison's lists */
async function choose(page: Page, list: string, version: string): Promise<void> {
  const select = page.getByLabel(list);
  const value = await select
    .locator("option", { hasText: new RegExp(`^${version.replaceAll(".", "\\.")} `) })
    .getAttribute("value");
  assert.ok(value, `${list} offers ${version}`);
  await select.selectOption(value);
}

/** Milliseconds from navigation to the page's mark, read from the browser's performance timeline */
async function markAfterNavigation(page: Page, mark: string): Promise<number> {
  await page.waitForFunction((name) => performance.getEntriesByName(name).length > 0, mark);
  return page.evaluate((name) => performance.getEntriesByName(name)[0]?.startTime ?? Number.NaN, mark);
}

test(
  "two real ships: the heatmap, its keyboard path, the trends, a comparison, and DORA",
  { timeout: 600_000 },
  async () => {
    const first = await cli(["ship", "hello", "--version", "1.0.0"]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    url = controlPlaneUrl(scratch.stateDir);
    const approved = await cli(["approve", await productionRun()]);
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
    const second = await cli(["ship", "hello", "--version", "2.0.0"]);
    assert.equal(second.code, 0, second.stdout + second.stderr);

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(page, url, tokens.admin);

    // From the pipeline's staging card to the stage's signature.
    await page.getByRole("link", { name: "Performance signature of staging" }).click();
    await page.getByRole("heading", { name: "Performance signature: hello in staging" }).waitFor();
    const grid = page.getByRole("grid", { name: "SLIs by build" });
    await grid.waitFor();
    for (const version of ["1.0.0", "2.0.0"]) {
      const cell = grid.getByRole("gridcell", {
        name: new RegExp(`^latency_p95 in ${version}: (pass|warning|fail), value \\d`),
      });
      assert.equal(await cell.count(), 1, `a latency cell for ${version}`);
      // Colour is not the only signal: the cell shows a symbol and the value.
      assert.match(await cell.innerText(), /^[✓⚠✗] \d/);
    }
    assert.match(
      (await grid.getByRole("gridcell", { name: /^error_rate in 2\.0\.0/ }).getAttribute("aria-label")) ?? "",
      /baseline .*, score .*, pass <1/,
    );

    // The keyboard's path: from the newest build's heading down into its cells, left to the
    // older build, and Enter chooses it.
    await grid.getByRole("button", { name: /^Choose build 2\.0\.0/ }).focus();
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    assert.match(await focusedLabel(page), / in 2\.0\.0: /);
    await page.keyboard.press("ArrowLeft");
    assert.match(await focusedLabel(page), / in 1\.0\.0: /);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Build 1.0.0" }).waitFor();
    assert.equal(
      await grid.getByRole("button", { name: /^Choose build 1\.0\.0/ }).getAttribute("aria-pressed"),
      "true",
    );

    // Any two builds: the older as A, the newer as B; what moved most comes first, judged.
    await choose(page, "Before (A)", "1.0.0");
    await choose(page, "After (B)", "2.0.0");
    await page
      .getByRole("status")
      .filter({ hasText: /From 1\.0\.0 to 2\.0\.0, \S+ moved most: / })
      .waitFor();
    const changes = page.getByRole("table", { name: /What moved from 1\.0\.0 \(A\) to 2\.0\.0 \(B\)/ });
    for (const sli of ["latency_p95", "error_rate"])
      await changes.getByRole("rowheader", { name: sli, exact: true }).waitFor();
    const latencyRow = await changes
      .getByRole("row", { name: /latency_p95/ })
      .first()
      .innerText();
    assert.match(latencyRow, /[+−]?\d.*%|0%/);
    assert.match(
      latencyRow,
      /[⚠✓] (yes|no)/,
      "the judge calls latency's change significant or not, on the real samples",
    );

    // A trend chart per SLI, with its figures as text beside it.
    const trends = page.getByRole("region", { name: "Trends over builds" });
    await trends.locator("canvas").first().waitFor();
    assert.equal(await trends.getByRole("img").count(), 2);
    assert.match(
      await trends.innerText(),
      /Newest: [\d.]+ \((pass|warning|fail)\); pass under [\d.]+, warning under [\d.]+\./,
    );
    await page.screenshot({ path: join(screenshots, "signature.png"), fullPage: true });
    await atPhoneWidth(page, "signature");

    // The run page links to its stage's signature.
    await page.goto(`${url}/#/runs/${encodeURIComponent(await productionRun())}`);
    await page.getByRole("link", { name: "Performance signature of production" }).click();
    await page.getByRole("heading", { name: "Performance signature: hello in production" }).waitFor();
    await page.getByRole("gridcell", { name: /^latency_p95 in 2\.0\.0/ }).waitFor();

    // DORA: the four keys per stage, as a table and as charts over time.
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "DORA" }).click();
    await page.getByRole("heading", { name: "DORA's four keys" }).waitFor();
    const table = page.locator("table.dora-table");
    const staging = table.getByRole("row", { name: /staging/ });
    await staging.waitFor();
    assert.match(await staging.innerText(), /2 in all/);
    assert.match(await table.getByRole("row", { name: /production/ }).innerText(), /1 in all/);
    await page.getByRole("region", { name: "hello staging over time" }).locator("canvas").first().waitFor();
    await page.getByLabel("Step", { exact: true }).selectOption("week");
    await page.getByRole("heading", { name: "Deployments and failures by week" }).first().waitFor();
    await page.screenshot({ path: join(screenshots, "dora.png"), fullPage: true });
    await atPhoneWidth(page, "dora");
    await page.close();
  },
);

test("a viewer reads the signature and DORA pages", { timeout: 120_000 }, async () => {
  assert.ok(browser, "the first test launched the browser");
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await logIn(page, url, tokens.viewer);
  assert.match(await page.getByText("viewer (viewer)").innerText(), /viewer/);
  await page.goto(`${url}/#/signature/hello/staging`);
  await page.getByRole("gridcell", { name: /^latency_p95 in 2\.0\.0/ }).waitFor();
  await page
    .getByRole("status")
    .filter({ hasText: /moved most/ })
    .waitFor();
  await page.goto(`${url}/#/dora`);
  await page
    .locator("table.dora-table")
    .getByRole("row", { name: /staging/ })
    .waitFor();
  await page.close();
});

test(
  `with ${SEEDED} builds of history: how soon the first page and the signature page show their data`,
  { timeout: 300_000 },
  async () => {
    assert.ok(browser, "the first test launched the browser");
    const store = await openSqliteStore(join(scratch.stateDir, "waybill.db"));
    try {
      await store.append(signatureHistory({ service: "hello", stage: "staging", builds: SEEDED }));
    } finally {
      await store.close();
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await logIn(page, url, tokens.admin);
    const pipeline: number[] = [];
    const signature: number[] = [];
    // Each a new document (from a blank page), so its performance timeline starts at its navigation.
    for (let round = 0; round < 3; round += 1) {
      await page.goto("about:blank");
      await page.goto(`${url}/`);
      pipeline.push(await markAfterNavigation(page, "waybill:interactive"));
      await page.goto("about:blank");
      await page.goto(`${url}/#/signature/hello/staging`);
      signature.push(await markAfterNavigation(page, "waybill:signature-ready"));
    }
    await page.getByText(`50 of ${SEEDED + 2} builds`).waitFor();
    await page.getByRole("button", { name: "Show 50 older builds" }).click();
    await page.getByText(`100 of ${SEEDED + 2} builds`).waitFor();
    await page.screenshot({ path: join(screenshots, "signature-history.png") });
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[1] ?? Number.NaN;
    const where = `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, load average ${loadavg()
      .map((load) => load.toFixed(2))
      .join(" ")}`;
    console.log(
      `# dashboard with ${SEEDED} builds: the pipeline page was interactive ${median(pipeline).toFixed(0)} ms after navigation ` +
        `(runs: ${pipeline.map((ms) => ms.toFixed(0)).join(", ")}); the signature page showed its heatmap after ` +
        `${median(signature).toFixed(0)} ms (runs: ${signature.map((ms) => ms.toFixed(0)).join(", ")}); ${where}`,
    );
    await page.close();
  },
);
