/**
 * Preloaded into an app's Node processes with `--import` (see README.md): appends the path of every
 * file the process loads, CommonJS and ES modules alike, to `node-loaded.txt` in the folder this
 * file was copied into. Self-contained on purpose: it runs as a copy, away from the rest of Waybill.
 * The app must behave as without it, so every failure here is swallowed.
 */
import { appendFileSync } from "node:fs";
import Module, { createRequire, register } from "node:module";
import { fileURLToPath } from "node:url";

const recordFile = fileURLToPath(new URL("./node-loaded.txt", import.meta.url));
const recorded = new Set<string>();
let writable = true;

function record(path: string): void {
  if (!writable || recorded.has(path)) return;
  recorded.add(path);
  try {
    // Synchronous, so a line is on disk before the module runs and survives SIGKILL
    appendFileSync(recordFile, `${path}\n`);
  } catch {
    writable = false;
  }
}

// `--require` preloads ran before this one
for (const path of Object.keys(createRequire(import.meta.url).cache)) record(path);

interface CommonJsModulePrototype {
  load(this: unknown, filename: string): unknown;
}

// Every CommonJS file (and .json, .node addon) goes through Module#load with its resolved path
const commonJsModule = Module.prototype as unknown as CommonJsModulePrototype;
const loadCommonJs = commonJsModule.load;
commonJsModule.load = function load(this: unknown, filename: string): unknown {
  record(filename);
  return loadCommonJs.call(this, filename);
};

/** module.registerHooks' load hook, which @types/node 20 does not know */
type InThreadLoadHook = (
  url: string,
  context: unknown,
  nextLoad: (url: string, context?: unknown) => unknown,
) => unknown;

interface ModuleWithInThreadHooks {
  registerHooks?: (hooks: { load: InThreadLoadHook }) => unknown;
}

const moduleApi = Module as unknown as ModuleWithInThreadHooks;
try {
  if (moduleApi.registerHooks !== undefined) {
    // Node 22.15+ runs hooks in this thread; module.register warns from Node 25.9 on
    moduleApi.registerHooks({
      load(url, context, nextLoad) {
        if (url.startsWith("file:")) record(fileURLToPath(url));
        return nextLoad(url, context);
      },
    });
  } else {
    // ES modules are loaded by the module loader, whose hooks run on a thread of their own
    register(new URL("./node-hooks.mjs", import.meta.url), { data: { recordFile } });
  }
} catch {
  // A Node without module hooks still has CommonJS recorded
}
