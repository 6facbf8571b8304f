/**
 * Module loader hooks registered by node-preload (see README.md): records the file of every module
 * the ES module loader loads. They run on the loader's own thread, so the record file comes in
 * through `initialize`. Self-contained on purpose, and silent on every failure.
 */
import { appendFileSync } from "node:fs";
import type { InitializeHook, LoadHook } from "node:module";
import { fileURLToPath } from "node:url";

let recordFile: string | undefined;
const recorded = new Set<string>();

export const initialize: InitializeHook<unknown> = (data) => {
  if (typeof data === "object" && data !== null && "recordFile" in data) {
    const file = data.recordFile;
    if (typeof file === "string") recordFile = file;
  }
};

export const load: LoadHook = (url, context, nextLoad) => {
  if (url.startsWith("file:")) record(url);
  return nextLoad(url, context);
};

function record(url: string): void {
  if (recordFile === undefined || recorded.has(url)) return;
  recorded.add(url);
  try {
    appendFileSync(recordFile, `${fileURLToPath(url)}\n`);
  } catch {
    recordFile = undefined;
  }
}
