/**
 * What the dashboard's browser tests share: Debian's Chromium, where the screenshots go, the
 * control plane's address, and logging in by keyboard.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { distRoot, repoRoot } from "../testing/paths.js";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * README's screenshots are taken again only when asked (WAYBILL_SCREENSHOTS=1): a test run
 * leaves the tree as it was.
 */
export function screenshotsDir(): string {
  return process.env.WAYBILL_SCREENSHOTS === "1"
    ? join(repoRoot, "docs", "screenshots")
    : mkdtempSync(join(tmpdir(), "waybill-screenshots-"));
}

/** Chromium is installed and the dashboard is built into the tree under test */
export function assertBrowserReady(): void {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  assert.ok(
    existsSync(join(distRoot, "dashboard", "assets", "manifest.json")),
    `the dashboard is not built into ${distRoot}: node scripts/build-dashboard.mjs ${distRoot}`,
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** The address of the control plane a CLI command started for this state */
export function controlPlaneUrl(stateDir: string): string {
  return (JSON.parse(readFileSync(join(stateDir, "control-plane.json"), "utf8")) as { url: string }).url;
}

/** The keyboard's path: the token field, typed into, and Enter; then the pipeline is there */
export async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel("API token").focus();
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Pipeline" }).waitFor();
}

/** How far the page is wider than its window, in pixels (evaluated in the page, where the DOM is) */
export async function overflowOf(page: Page): Promise<number> {
  return Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
}
