/**
 * Go modules from `go.mod`, with `go.sum` for hashes. A go.sum `h1:` value is the base64
 * SHA-256 of Go's dirhash over the module's files, not of any file a CycloneDX consumer could
 * check, so it is recorded as a property. From go 1.17 on, go.mod lists every module the build
 * needs; before that, the modules go.sum holds a zip hash for fill in the rest (at the highest
 * version, as minimal version selection would pick).
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { golangPurl } from "../purl.js";
import type { ComponentProperty, EcosystemReader, FoundComponent } from "../types.js";

export const GO_H1_PROPERTY = "waybill:go:h1";
export const GO_INDIRECT_PROPERTY = "waybill:go:indirect";
export const GO_REPLACES_PROPERTY = "waybill:go:replaces";
export const GO_FROM_GO_SUM_PROPERTY = "waybill:go:from-go.sum";

interface Requirement {
  path: string;
  version: string;
  indirect: boolean;
}

interface Replacement {
  fromPath: string;
  /** Only this version is replaced; all versions when absent */
  fromVersion?: string;
  toPath: string;
  /** Absent for a local folder, which is the project's own code */
  toVersion?: string;
}

interface GoMod {
  goVersion?: string;
  requirements: Requirement[];
  replacements: Replacement[];
}

export const goEcosystem: EcosystemReader = {
  name: "go",
  detect: (files) => files.filter((file) => basename(file) === "go.mod"),
  async read(file) {
    const goMod = parseGoMod(await readFile(file, "utf8"));
    const sumFile = join(dirname(file), "go.sum");
    const sums = await readFile(sumFile, "utf8").then(parseGoSum, () => undefined);
    const warnings = sums === undefined ? ["no go.sum beside go.mod: modules have no h1 hashes"] : [];

    const components = new Map<string, FoundComponent>();
    const directDependencies: string[] = [];
    const add = (requirement: Requirement, extra: ComponentProperty[]): void => {
      const replacement = goMod.replacements.find(
        (candidate) =>
          candidate.fromPath === requirement.path &&
          (candidate.fromVersion === undefined || candidate.fromVersion === requirement.version),
      );
      if (replacement !== undefined && replacement.toVersion === undefined) return;
      const path = replacement?.toPath ?? requirement.path;
      const version = replacement?.toVersion ?? requirement.version;
      const properties = [...extra];
      const h1 = sums?.get(`${path} ${version}`);
      if (h1 !== undefined) properties.push({ name: GO_H1_PROPERTY, value: h1 });
      if (requirement.indirect) properties.push({ name: GO_INDIRECT_PROPERTY, value: "true" });
      if (replacement !== undefined) {
        properties.push({ name: GO_REPLACES_PROPERTY, value: `${requirement.path} ${requirement.version}` });
      }
      const purl = golangPurl(path, version);
      components.set(purl, {
        ecosystem: "golang",
        name: path,
        version,
        purl,
        localName: path,
        hashes: [],
        scope: "required",
        properties,
      });
      if (!requirement.indirect) directDependencies.push(purl);
    };

    for (const requirement of goMod.requirements) add(requirement, []);
    if (sums !== undefined && !listsWholeBuild(goMod.goVersion)) {
      const required = new Set(goMod.requirements.map((requirement) => requirement.path));
      for (const [path, version] of highestVersions(sums)) {
        if (!required.has(path)) {
          add({ path, version, indirect: true }, [{ name: GO_FROM_GO_SUM_PROPERTY, value: "true" }]);
        }
      }
    }
    return { components: [...components.values()], dependencies: [], directDependencies, warnings };
  },
};

function listsWholeBuild(goVersion: string | undefined): boolean {
  const [major = 0, minor = 0] = (goVersion ?? "0.0").split(".").map(Number);
  return major > 1 || (major === 1 && minor >= 17);
}

function stripComment(line: string): { text: string; indirect: boolean } {
  const at = line.indexOf("//");
  if (at < 0) return { text: line.trim(), indirect: false };
  return { text: line.slice(0, at).trim(), indirect: /^\/\/\s*indirect\b/.test(line.slice(at).trim()) };
}

function unquoteGo(token: string): string {
  return token.startsWith('"') && token.endsWith('"') ? token.slice(1, -1) : token;
}

export function parseGoMod(text: string): GoMod {
  const goMod: GoMod = { requirements: [], replacements: [] };
  let block: string | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const { text: line, indirect } = stripComment(rawLine);
    if (line === "") continue;
    if (block !== undefined) {
      if (line === ")") block = undefined;
      else readDirective(goMod, block, line, indirect);
      continue;
    }
    const blockStart = /^(\w+)\s*\($/.exec(line);
    if (blockStart !== null) {
      block = blockStart[1];
      continue;
    }
    const space = line.indexOf(" ");
    if (space > 0) readDirective(goMod, line.slice(0, space), line.slice(space + 1).trim(), indirect);
  }
  return goMod;
}

function readDirective(goMod: GoMod, verb: string | undefined, rest: string, indirect: boolean): void {
  if (verb === "go") {
    goMod.goVersion = rest;
  } else if (verb === "require") {
    const [path, version] = rest.split(/\s+/).map(unquoteGo);
    if (path !== undefined && version !== undefined) goMod.requirements.push({ path, version, indirect });
  } else if (verb === "replace") {
    const [left = "", right = ""] = rest.split("=>").map((side) => side.trim());
    const [fromPath = "", fromVersion] = left.split(/\s+/).map(unquoteGo);
    const [toPath = "", toVersion] = right.split(/\s+/).map(unquoteGo);
    goMod.replacements.push({ fromPath, fromVersion, toPath, toVersion });
  }
}

/** `path version h1:…` lines for module zips; the `/go.mod` lines only hash manifests. */
function parseGoSum(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const [path, version, hash] = line.trim().split(/\s+/);
    if (path === undefined || version === undefined || hash === undefined || version.endsWith("/go.mod"))
      continue;
    sums.set(`${path} ${version}`, hash);
  }
  return sums;
}

function highestVersions(sums: Map<string, string>): Map<string, string> {
  const highest = new Map<string, string>();
  for (const key of sums.keys()) {
    const [path = "", version = ""] = key.split(" ");
    const known = highest.get(path);
    if (known === undefined || compareGoVersions(version, known) > 0) highest.set(path, version);
  }
  return highest;
}

/** Semantic version order as Go uses it; pseudo-versions are prereleases and sort as such. */
export function compareGoVersions(a: string, b: string): number {
  const split = (version: string) => {
    const [core = "", prerelease] = version.replace(/^v/, "").split("+")[0]?.split(/-(.*)/s) ?? [];
    return { numbers: core.split(".").map(Number), prerelease };
  };
  const left = split(a);
  const right = split(b);
  for (let index = 0; index < 3; index++) {
    const difference = (left.numbers[index] ?? 0) - (right.numbers[index] ?? 0);
    if (difference !== 0) return difference;
  }
  if (left.prerelease === right.prerelease) return 0;
  if (left.prerelease === undefined) return 1;
  if (right.prerelease === undefined) return -1;
  return left.prerelease < right.prerelease ? -1 : 1;
}
