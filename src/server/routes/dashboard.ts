/**
 * The dashboard's files: `scripts/build-dashboard.mjs` bundles `src/dashboard/` into
 * `dist/dashboard/assets/`, each file named by its content's hash, with a manifest naming the
 * entry script and style sheet. The page at `/` is written here around those two names; the
 * files are served under `/ui/` as immutable. Nothing is fetched from elsewhere.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { dashboardAsset } from "../../api/system.js";
import { NotFoundError } from "../../errors.js";
import { registerRoute } from "../route.js";

export interface DashboardFiles {
  /** The page, or undefined when this package was built without the dashboard */
  page: string | undefined;
  assets: Map<string, { body: Buffer; contentType: string }>;
}

const defaultDir = fileURLToPath(new URL("../../dashboard/assets/", import.meta.url));

const contentTypes: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/** The page's own rules: scripts, styles and requests only from this origin, no framing. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

/** Reads the built files once; a package without them still serves the API, and says so at `/`. */
export function loadDashboardFiles(dir: string = defaultDir): DashboardFiles {
  const manifestFile = `${dir}/manifest.json`;
  if (!existsSync(manifestFile)) return { page: undefined, assets: new Map() };
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as {
    script: string;
    style: string;
    files: string[];
  };
  const assets = new Map<string, { body: Buffer; contentType: string }>();
  for (const file of manifest.files) {
    const contentType = contentTypes[file.split(".").pop() ?? ""];
    if (contentType !== undefined) assets.set(file, { body: readFileSync(`${dir}/${file}`), contentType });
  }
  return { page: pageHtml(manifest.script, manifest.style), assets };
}

function pageHtml(script: string, style: string): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>Waybill</title>",
    `<link rel="stylesheet" href="/ui/${style}">`,
    `<script type="module" src="/ui/${script}"></script>`,
    "</head>",
    "<body>",
    '<div id="app"><p class="loading">Loading the dashboard…</p></div>',
    "<noscript>The dashboard needs JavaScript. The same data is in the API: /openapi.json describes it.</noscript>",
    "</body>",
    "</html>",
  ].join("\n");
}

const notBuilt = [
  "<!doctype html>",
  '<html lang="en"><head><meta charset="utf-8"><title>Waybill</title></head>',
  "<body><h1>Waybill</h1><p>This control plane was built without its dashboard: run <code>npm run build</code>.",
  'The API is described at <a href="/openapi.json">/openapi.json</a>.</p></body></html>',
].join("\n");

/** Sends the dashboard's page (or, unbuilt, a page saying how to build it) */
export function sendDashboardPage(reply: FastifyReply, files: DashboardFiles): FastifyReply {
  return reply
    .code(200)
    .header("cache-control", "no-cache")
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .type("text/html; charset=utf-8")
    .send(files.page ?? notBuilt);
}

export function registerDashboardRoutes(app: FastifyInstance, files: DashboardFiles): void {
  registerRoute(app, dashboardAsset, async ({ params, reply }) => {
    const asset = files.assets.get(params.file);
    if (asset === undefined) throw new NotFoundError(`the dashboard has no file ${params.file}`);
    return reply
      .header("cache-control", "public, max-age=31536000, immutable")
      .header("x-content-type-options", "nosniff")
      .type(asset.contentType)
      .send(asset.body);
  });
}
