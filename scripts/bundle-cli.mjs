// Bundles the compiled CLI (dist/cli/main.js, from tsc) into dist/bundle/: main.js, one file per
// command, and the chunks they share, minified. A command then loads a handful of files instead of
// over a hundred ES modules (zod alone is 95), each resolved, read and linked on its own
// (src/cli/README.md). bin/waybill.js runs dist/bundle/main.js.
//
//   node scripts/bundle-cli.mjs [dist-dir]        (default dist; npm run build calls it after tsc)
//
// The bundle is built from tsc's output, so it runs the same code the tests run. What a module finds
// relative to itself it still finds: its `import.meta.url` is rewritten to the URL of its compiled
// file in dist/, so the worker, sidecar, data-plane daemon and control-plane entries it starts, and
// the files it reads, are the ones beside it there, as in the unbundled tree.
import { build } from "esbuild";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { zodEnglishOnly } from "./zod-english-only.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = resolve(repoRoot, process.argv[2] ?? "dist");
const entry = join(distDir, "cli", "main.js");
const outDir = join(distDir, "bundle");

// A native addon stays in node_modules.
const external = ["better-sqlite3"];

if (!existsSync(entry)) {
  process.stderr.write(`bundle-cli: ${entry} is missing: compile first (tsc -p tsconfig.json)\n`);
  process.exit(2);
}

/** Each compiled module keeps its own location: `import.meta.url` as if it had not been bundled. */
const ownLocation = {
  name: "own-location",
  setup(esbuild) {
    const inDist = new RegExp(`^${escapeRegExp(distDir + sep)}.*\\.js$`);
    esbuild.onLoad({ filter: inDist }, async ({ path }) => {
      const source = await readFile(path, "utf8");
      if (!source.includes("import.meta.url")) return { contents: source, loader: "js" };
      const fromBundle = relative(outDir, path).split(sep).join("/");
      const url = `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`;
      return { contents: source.replaceAll("import.meta.url", url), loader: "js" };
    });
  },
};

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const options = {
  entryPoints: { main: entry },
  outdir: outDir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  // CommonJS packages inside an ESM bundle still call require() for Node's built-ins.
  banner: {
    js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);',
  },
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  minify: true,
  // Names as written, for whatever reads a class's or function's name; maps for
  // `node --enable-source-maps`, which point back through tsc's maps to src/.
  keepNames: true,
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "none",
  logLevel: "warning",
  plugins: [ownLocation, zodEnglishOnly],
};

/**
 * Packages the code loads on demand (`await import("yaml")`). In a split bundle, esbuild gives
 * such an import of a CommonJS package only a default export, where Node gives its named exports
 * too (`(await import("yaml")).parse` would be undefined), so these load from node_modules, as
 * unbundled, wherever they are imported: they are off the start-up path anyway.
 */
async function packagesImportedOnDemand() {
  const { metafile } = await build({ ...options, external, write: false, metafile: true });
  const packages = new Set();
  for (const input of Object.values(metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.kind !== "dynamic-import" || imported.external) continue;
      if (!imported.path.includes("node_modules/")) continue;
      const specifier = imported.original ?? "";
      if (/^[@a-z]/.test(specifier)) packages.add(packageName(specifier));
    }
  }
  return [...packages].sort();
}

function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const onDemand = await packagesImportedOnDemand();
// A stale chunk from an earlier build would never be loaded, but it would be published.
await rm(outDir, { recursive: true, force: true });
await build({ ...options, external: [...external, ...onDemand] });
