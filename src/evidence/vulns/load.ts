/**
 * Reads OSV advisories from disk: one JSON file, a directory of them (searched recursively), or an
 * osv.dev-style all.zip of <ID>.json records (also when found inside a directory). A record that
 * cannot be read becomes a warning so one bad file does not hide the rest of a database; a path
 * that is not there, or a single named file that is not OSV, is the user's mistake.
 */
import { readFile, readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { unzipSync } from "fflate";
import { UserError, errorMessage } from "../../errors.js";
import { parseOsv, type Osv } from "./osv.js";

export interface LoadedAdvisories {
  advisories: Osv[];
  warnings: string[];
}

export async function loadAdvisories(path: string): Promise<LoadedAdvisories> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new UserError(`advisory database not found: ${path}`);
  const loaded: LoadedAdvisories = { advisories: [], warnings: [] };
  if (info.isDirectory()) {
    await loadDirectory(path, loaded);
    return loaded;
  }
  if (isZip(path)) {
    loadZip(path, await readFile(path), loaded);
    return loaded;
  }
  const result = readRecord(path, await readFile(path, "utf8"));
  if (!result.ok) throw new UserError(`${path} is not an OSV advisory: ${result.error}`);
  loaded.advisories.push(...result.advisories);
  return loaded;
}

function isZip(path: string): boolean {
  return extname(path).toLowerCase() === ".zip";
}

async function loadDirectory(dir: string, loaded: LoadedAdvisories): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await loadDirectory(path, loaded);
    } else if (isZip(path)) {
      loadZip(path, await readFile(path), loaded);
    } else if (extname(path).toLowerCase() === ".json") {
      const result = readRecord(path, await readFile(path, "utf8"));
      if (result.ok) loaded.advisories.push(...result.advisories);
      else loaded.warnings.push(`${path}: ${result.error}`);
    }
  }
}

/** Reads the JSON records of a zip archive, as osv.dev publishes each ecosystem's database. */
export function loadZip(path: string, bytes: Uint8Array, loaded: LoadedAdvisories): void {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (file) => file.name.toLowerCase().endsWith(".json") });
  } catch (error) {
    throw new UserError(`${path} is not a readable zip archive: ${errorMessage(error)}`);
  }
  const decoder = new TextDecoder();
  for (const name of Object.keys(files).sort()) {
    const result = readRecord(`${path}!${name}`, decoder.decode(files[name]));
    if (result.ok) loaded.advisories.push(...result.advisories);
    else loaded.warnings.push(`${path}!${name}: ${result.error}`);
  }
}

type RecordRead = { ok: true; advisories: Osv[] } | { ok: false; error: string };

/** A file holds one record, or a JSON list of them (the shape of an osv.dev API batch). */
function readRecord(source: string, text: string): RecordRead {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `invalid JSON: ${errorMessage(error)}` };
  }
  const advisories: Osv[] = [];
  for (const item of Array.isArray(value) ? value : [value]) {
    const parsed = parseOsv(item);
    if (!parsed.ok) return { ok: false, error: parsed.error };
    advisories.push(parsed.advisory);
  }
  return advisories.length === 0
    ? { ok: false, error: `${source} holds no records` }
    : { ok: true, advisories };
}
