// An esbuild plugin shared by the bundles (scripts/bundle-cli.mjs, scripts/build-dashboard.mjs).
// zod's namespace carries its error messages in some fifty languages, which a bundle cannot shake
// off (`z.locales`); Waybill speaks English, so the namespace gets English only. That is most of
// zod's weight in a bundle: over half of it, which every process parses on start.
import { dirname, join, sep } from "node:path";

export const zodEnglishOnly = {
  name: "zod-english-only",
  setup(esbuild) {
    esbuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, ({ importer }) =>
      importer.includes(`${sep}node_modules${sep}zod${sep}`)
        ? { path: join(dirname(importer), "..", "locales", "en.js"), namespace: "zod-locales" }
        : undefined,
    );
    esbuild.onLoad({ filter: /.*/, namespace: "zod-locales" }, ({ path }) => ({
      contents: `export { default as en } from ${JSON.stringify(path)};`,
      resolveDir: dirname(path),
      loader: "js",
    }));
  },
};
