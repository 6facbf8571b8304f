/**
 * Which files an app's processes load (see README.md): the environment that makes a Node, Python
 * or JVM process record them into a folder, and reading that folder back.
 */
import { accessSync, chownSync, constants, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { UserError } from "../../errors.js";
import { classSourceLocation } from "./jvm-class-load.js";
import { SITECUSTOMIZE_PY } from "./python-sitecustomize.js";

export type RecordedRuntime = "node" | "python" | "jvm";

export interface LoadRecorderOptions {
  /** The user the app runs as, when not this process's own (a root control plane's app user) */
  appUser?: { uid: number; gid: number };
}

// The Node and Python recorders find these names beside themselves, so they are spelled there too
const NODE_RECORD = "node-loaded.txt";
const NODE_SCRIPTS = ["node-preload", "node-hooks"] as const;
/** The empty module the preload imports to see how this Node's loader reads modules */
const NODE_PROBE = "node-probe.mjs";
const PYTHON_RECORD = "python-loaded.txt";
const PYTHON_FOLDER = "python";
/** One log per JVM (`%p` is its pid): a JVM rotates away any log file it finds at start. */
const JVM_LOG_OPTION = "-Xlog:class+load=info:file=";
const JVM_LOG_NAME = "classload-%p.log";
const JVM_LOG_FILE = /^classload-\d+\.log(\.\d+)?$/;
/** -Xlog splits on `:` and `,`, substitutes `%`, and JAVA_TOOL_OPTIONS splits on white space. */
const UNSAFE_IN_JVM_OPTION = /[\s"':,=%]/;

/**
 * Variables to add to the environment of a process about to start so it records every file it
 * loads under `outputDir`: the user's own NODE_OPTIONS, PYTHONPATH or JAVA_TOOL_OPTIONS in `env`
 * are kept. Writes the recorder's own files into `outputDir` and gives the folder to `appUser`.
 * None for a JVM that could not write there: it would refuse to start rather than log nothing.
 */
export function loadRecorderEnv(
  runtime: RecordedRuntime,
  outputDir: string,
  env: Readonly<Record<string, string>>,
  options: LoadRecorderOptions = {},
): Record<string, string> {
  const folder = resolve(outputDir);
  if (runtime === "jvm" && UNSAFE_IN_JVM_OPTION.test(folder)) {
    throw new UserError(
      `load recorder: a JVM cannot log classes into ${folder}; choose a folder without spaces, quotes, ":", ",", "=" or "%"`,
    );
  }
  if (runtime === "python" && folder.includes(delimiter)) {
    throw new UserError(`load recorder: ${folder} cannot go on PYTHONPATH, its name holds "${delimiter}"`);
  }
  mkdirSync(folder, { recursive: true });
  if (options.appUser !== undefined) chownSync(folder, options.appUser.uid, options.appUser.gid);
  switch (runtime) {
    case "node":
      // Ours first, so the user's own --import preloads are recorded too
      return { NODE_OPTIONS: joined(" ", `--import ${installNodePreload(folder)}`, env.NODE_OPTIONS) };
    case "python":
      return { PYTHONPATH: joined(delimiter, installSitecustomize(folder), env.PYTHONPATH) };
    case "jvm":
      if (options.appUser === undefined && !writable(folder)) return {};
      return {
        JAVA_TOOL_OPTIONS: joined(
          " ",
          env.JAVA_TOOL_OPTIONS,
          `${JVM_LOG_OPTION}${join(folder, JVM_LOG_NAME)}`,
        ),
      };
  }
}

/** What the processes recorded: absolute paths, each once, sorted; none when nothing was recorded. */
export async function readLoadedFiles(runtime: RecordedRuntime, outputDir: string): Promise<string[]> {
  const folder = resolve(outputDir);
  const paths =
    runtime === "jvm"
      ? await jvmClassSources(folder)
      : await recordedLines(join(folder, runtime === "node" ? NODE_RECORD : PYTHON_RECORD));
  return [...new Set(paths.filter((path) => isAbsolute(path)))].sort();
}

/**
 * Copies of the compiled preload and hooks, beside the record: the app's user may not be able to
 * read Waybill's own install, and `.mjs` is an ES module whatever the app's package.json says.
 */
function installNodePreload(folder: string): string {
  for (const script of NODE_SCRIPTS) {
    const compiled = readFileSync(new URL(`./${script}.js`, import.meta.url), "utf8");
    // The source map stays with Waybill
    writeFileSync(join(folder, `${script}.mjs`), compiled.replace(/^\/\/# sourceMappingURL=.*$/m, ""));
  }
  writeFileSync(join(folder, NODE_PROBE), "export {};\n");
  return pathToFileURL(join(folder, `${NODE_SCRIPTS[0]}.mjs`)).href;
}

function installSitecustomize(folder: string): string {
  const pythonFolder = join(folder, PYTHON_FOLDER);
  mkdirSync(pythonFolder, { recursive: true });
  writeFileSync(join(pythonFolder, "sitecustomize.py"), SITECUSTOMIZE_PY);
  return pythonFolder;
}

function writable(folder: string): boolean {
  try {
    accessSync(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function joined(separator: string, ...parts: Array<string | undefined>): string {
  return parts.filter((part) => part !== undefined && part.trim() !== "").join(separator);
}

/** Whole lines only: what follows the last newline was cut short when its process died. */
async function recordedLines(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch(nothingIfMissing);
  return text === undefined ? [] : text.split("\n").slice(0, -1);
}

async function jvmClassSources(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch(nothingIfMissing);
  const logs = (names ?? []).filter((name) => JVM_LOG_FILE.test(name)).sort();
  const sources: string[] = [];
  for (const log of logs) {
    for (const line of await recordedLines(join(folder, log))) {
      const source = classSourceLocation(line);
      if (source !== undefined) sources.push(source);
    }
  }
  return sources;
}

function nothingIfMissing(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  throw error;
}
