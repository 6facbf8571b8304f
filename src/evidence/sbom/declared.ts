/**
 * An SBOM with no components is evidence only when the service truly has no dependencies. A
 * folder that declares some without pinning them (a package.json without a lockfile, ranges in
 * requirements.txt) would otherwise pass as "nothing to scan": this says which file declared
 * them and why none were resolved.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export function unresolvedDependencies(dir: string): string | undefined {
  const has = (file: string) => existsSync(join(dir, file));
  const read = (file: string) => readFileSync(join(dir, file), "utf8");

  if (
    has("package.json") &&
    !["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock"].some(has)
  ) {
    const count = npmDependencyCount(read("package.json"));
    if (count > 0) {
      return `package.json declares ${count} dependenc${count === 1 ? "y" : "ies"} but there is no lockfile to resolve them: run npm install (or pnpm, yarn) and keep the lockfile with the service`;
    }
  }
  if (has("requirements.txt")) {
    const requirements = read("requirements.txt")
      .split("\n")
      .map((line) => line.replace(/#.*/, "").trim())
      .filter((line) => line !== "" && !line.startsWith("-"));
    if (requirements.length > 0) {
      return `requirements.txt lists ${requirements.length} requirement${requirements.length === 1 ? "" : "s"} without exact pins (name==version), so no version can be known: pin them (pip freeze, pip-compile) or use poetry.lock`;
    }
  }
  if (
    has("pyproject.toml") &&
    !has("poetry.lock") &&
    /^\s*(dependencies\s*=\s*\[\s*["']|\[tool\.poetry\.dependencies\])/m.test(read("pyproject.toml"))
  ) {
    return "pyproject.toml declares dependencies but there is no poetry.lock to resolve them: run poetry lock and keep the lockfile with the service";
  }
  if (has("go.mod") && !has("go.sum") && /^\s*require\b/m.test(read("go.mod"))) {
    return "go.mod requires modules but there is no go.sum: run go mod tidy and keep go.sum with the service";
  }
  return undefined;
}

function npmDependencyCount(text: string): number {
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    return 0;
  }
  if (typeof manifest !== "object" || manifest === null) return 0;
  const record = manifest as Record<string, unknown>;
  return ["dependencies", "optionalDependencies"].reduce((sum, field) => {
    const block = record[field];
    return sum + (typeof block === "object" && block !== null ? Object.keys(block).length : 0);
  }, 0);
}
