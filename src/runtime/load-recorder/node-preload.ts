/**
 * Preloaded into an app's Node processes with `--import` (see README.md): appends the path of every
 * file the process loads, CommonJS and ES modules alike, to `node-loaded.txt` in the folder this
 * file was copied into. Self-contained on purpose: it runs as a copy, away from the rest of Waybill.
 * The app must behave as without it, so every failure here is swallowed.
 */
import { appendFileSync, promises as fsPromises } from "node:fs";
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

/** An empty module beside this one, imported once to see whether `recordFromLoaderReads` works */
const probeModule = new URL("./node-probe.mjs", import.meta.url);

/**
 * Whether the caller's caller is the ES module loader: its file, from V8's own call sites (three,
 * as this runs per read), whatever stack format the app installs.
 */
function calledByModuleLoader(): boolean {
  const { stackTraceLimit, prepareStackTrace } = Error;
  Error.stackTraceLimit = 3;
  Error.prepareStackTrace = (_error, frames) => frames[2]?.getFileName() ?? "";
  const caller: unknown = new Error().stack;
  Error.stackTraceLimit = stackTraceLimit;
  Error.prepareStackTrace = prepareStackTrace;
  return typeof caller === "string" && caller.startsWith("node:internal/modules/esm/");
}

/**
 * Node 20's ES module loader reads each module's source with fs/promises' readFile, looked up as it
 * loads, giving the module's file URL: wrapped, that records ES modules in this thread. The loader
 * hooks of `module.register` run on a thread of their own instead, whose start cost the app some
 * 60–90 ms of CPU, inside its limits, before it could answer. Reads of the app's own are passed on
 * untouched and unrecorded. True when the loader was seen to read the probe module so.
 */
async function recordFromLoaderReads(): Promise<boolean> {
  let sawProbe = false;
  const readFile = fsPromises.readFile;
  const wrapped = function (this: unknown, ...args: Parameters<typeof readFile>) {
    const [path] = args;
    if (path instanceof URL && path.protocol === "file:" && calledByModuleLoader()) {
      if (path.href === probeModule.href) sawProbe = true;
      else record(fileURLToPath(path));
    }
    return Reflect.apply(readFile, this, args) as ReturnType<typeof readFile>;
  };
  Object.defineProperty(wrapped, "name", { value: readFile.name });
  fsPromises.readFile = wrapped as typeof readFile;
  try {
    await import(probeModule.href);
  } catch {
    // Unreadable: as good as unseen
  }
  if (!sawProbe) fsPromises.readFile = readFile;
  return sawProbe;
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
  } else if (!(await recordFromLoaderReads())) {
    // ES modules are loaded by the module loader, whose hooks run on a thread of their own
    register(new URL("./node-hooks.mjs", import.meta.url), { data: { recordFile } });
  }
} catch {
  // A Node without module hooks still has CommonJS recorded
}
