// Bundles the dashboard (src/dashboard/ui/main.js, with Preact and its styles) into
// <dist>/dashboard/assets/: one script and one style sheet, minified, each named by its content's
// hash so the control plane can serve them as immutable, and manifest.json naming them for the
// page (src/server/routes/dashboard.ts). Nothing is fetched at run time.
//
//   node scripts/build-dashboard.mjs [dist-dir]        (default dist)
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { zodEnglishOnly } from "./zod-english-only.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? "dist");
const outDir = join(distDir, "dashboard", "assets");

// The page's code is JavaScript typed with JSDoc, checked against the DOM's types on its own
// (src/dashboard/tsconfig.json): the server's program must not see the DOM.
const checked = spawnSync(
  process.execPath,
  [
    join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
    "-p",
    join(repoRoot, "src", "dashboard", "tsconfig.json"),
  ],
  { stdio: "inherit" },
);
if (checked.status !== 0) {
  process.stderr.write("build-dashboard: the dashboard's code does not type-check (above)\n");
  process.exit(1);
}

await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
const result = await build({
  plugins: [zodEnglishOnly],
  entryPoints: { app: join(repoRoot, "src", "dashboard", "ui", "main.js") },
  outdir: outDir,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome111", "firefox115", "safari16.4"],
  minify: true,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const files = Object.keys(result.metafile.outputs).map((path) => basename(path));
const script = files.find((file) => file.endsWith(".js"));
const style = files.find((file) => file.endsWith(".css"));
if (script === undefined || style === undefined) {
  process.stderr.write(`build-dashboard: expected a script and a style sheet, got ${files.join(", ")}\n`);
  process.exit(1);
}
await writeFile(join(outDir, "manifest.json"), `${JSON.stringify({ script, style, files }, null, 2)}\n`);
const sizes = Object.entries(result.metafile.outputs)
  .map(([path, output]) => `${basename(path)} ${(output.bytes / 1024).toFixed(1)} KiB`)
  .join(", ");
process.stdout.write(`build-dashboard: ${sizes}\n`);
