/**
 * Where tests find the repository and the compiled CLI. Tests run from a compiled tree
 * (dist/ by default), so fixtures are located from the repository root, not relative to
 * the compiled file.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findUp(start: string, marker: string): string {
  let dir = start;
  while (!existsSync(join(dir, marker))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no ${marker} above ${start}`);
    dir = parent;
  }
  return dir;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled tree this file was loaded from, e.g. <repo>/dist */
export const distRoot = dirname(here);
export const repoRoot = findUp(here, "package.json");
/** Run the CLI as `node <cliEntry> …args` */
export const cliEntry = join(distRoot, "cli", "main.js");
export const fixturesDir = join(repoRoot, "test", "fixtures");
