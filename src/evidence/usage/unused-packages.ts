/**
 * Packages the SBOM lists that a running service never loaded (see README.md). Pure: the files a
 * run loaded come from the load recorder, where each package sits and its size from locate.ts.
 */
import { posix } from "node:path";
import type { FoundComponent } from "../sbom/types.js";

export type UsageComponent = Pick<FoundComponent, "ecosystem" | "name" | "version" | "purl" | "scope">;

/** Where a package sits in the artifact and what it weighs there. */
export interface PackageLocation {
  /**
   * Absolute: npm package folders, a Python distribution's files (its RECORD), Maven jars; a
   * package installed twice has both.
   */
  paths: string[];
  bytes: number;
}

export interface UsageInput {
  components: readonly UsageComponent[];
  /** Absolute real paths, as the load recorder reads them */
  loadedFiles: readonly string[];
  /** The artifact folder's real path: loads from elsewhere (the runtime, npm itself) do not count */
  artifactRoot: string;
  /** By purl */
  packageLocations: ReadonlyMap<string, PackageLocation>;
  artifactBytes: number;
}

export interface NeverLoadedPackage {
  purl: string;
  name: string;
  version: string;
  bytes: number;
}

export interface UsageReport {
  /** False when no file inside the artifact was recorded: then nothing is judged */
  recorded: boolean;
  /** Purls of the components the run loaded a file of, sorted */
  loaded: string[];
  /** Required components the run loaded nothing of, heaviest first */
  neverLoaded: NeverLoadedPackage[];
  neverLoadedBytes: number;
  /** neverLoadedBytes as a share of the whole artifact, one decimal */
  shareOfArtifactPct: number;
  caveat: string;
}

export const NOT_PROOF_CAVEAT =
  "These packages were not loaded while the stage's test load ran: candidates for removal, not proof " +
  "they are unused. Code the load did not reach (error handling, rare requests, start-up options, " +
  "lazy imports, programs run as child processes) may still need them.";
export const NOTHING_RECORDED_CAVEAT =
  "Nothing was recorded from inside the artifact (the recorder could not write, or the process " +
  "was not recorded), so no package is reported as never loaded.";

/** Go code is compiled into the binary: no file of a module is ever loaded on its own. */
const FILE_LOADED_ECOSYSTEMS: ReadonlySet<UsageComponent["ecosystem"]> = new Set(["npm", "pypi", "maven"]);

export function unusedPackages(input: UsageInput): UsageReport {
  const root = posix.normalize(input.artifactRoot).replace(/(.)\/$/, "$1");
  const owners = packageOwners(input.components, input.packageLocations);
  const loaded = new Set<string>();
  let recorded = false;
  for (const file of input.loadedFiles) {
    const path = posix.normalize(file);
    if (!path.startsWith(`${root}/`)) continue;
    recorded = true;
    for (const purl of owners.of(path, root)) loaded.add(purl);
  }
  if (!recorded) {
    return {
      recorded,
      loaded: [],
      neverLoaded: [],
      neverLoadedBytes: 0,
      shareOfArtifactPct: 0,
      caveat: NOTHING_RECORDED_CAVEAT,
    };
  }
  const neverLoaded = input.components
    .filter(
      (component) =>
        component.scope === "required" &&
        FILE_LOADED_ECOSYSTEMS.has(component.ecosystem) &&
        !loaded.has(component.purl),
    )
    .map(({ purl, name, version }) => ({
      purl,
      name,
      version,
      bytes: input.packageLocations.get(purl)?.bytes ?? 0,
    }))
    .sort((a, b) => b.bytes - a.bytes || (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
  const neverLoadedBytes = neverLoaded.reduce((sum, found) => sum + found.bytes, 0);
  return {
    recorded,
    loaded: [...loaded].sort(),
    neverLoaded,
    neverLoadedBytes,
    shareOfArtifactPct:
      input.artifactBytes > 0 ? Math.round((neverLoadedBytes / input.artifactBytes) * 1000) / 10 : 0,
    caveat: NOT_PROOF_CAVEAT,
  };
}

interface PackageOwners {
  /** The purls a loaded file belongs to: none for the app's own files */
  of(file: string, root: string): readonly string[];
}

/**
 * A file belongs to the package whose location holds it most closely. Without a location, the
 * path itself says: the innermost `node_modules/<name>`, a jar's `<artifact>-<version>.jar`, the
 * top-level module under `site-packages`.
 */
function packageOwners(
  components: readonly UsageComponent[],
  locations: ReadonlyMap<string, PackageLocation>,
): PackageOwners {
  const byPath = new Map<string, string[]>();
  const byName = new Map<string, string[]>();
  const add = (index: Map<string, string[]>, key: string, purl: string) => {
    const purls = index.get(key) ?? [];
    if (!purls.includes(purl)) purls.push(purl);
    index.set(key, purls);
  };
  for (const component of components) {
    const paths = locations.get(component.purl)?.paths ?? [];
    for (const path of paths) add(byPath, posix.normalize(path), component.purl);
    const key = nameKey(component);
    if (key !== undefined) add(byName, key, component.purl);
  }
  return {
    of(file, root) {
      for (let at = file; at.startsWith(`${root}/`); at = posix.dirname(at)) {
        // Past a node_modules folder the file would belong to a package that merely holds it
        if (posix.basename(at) === "node_modules") break;
        const purls = byPath.get(at);
        if (purls !== undefined) return purls;
      }
      const key = nameKeyOfPath(file.slice(root.length));
      return key === undefined ? [] : (byName.get(key) ?? []);
    },
  };
}

function nameKey(component: UsageComponent): string | undefined {
  switch (component.ecosystem) {
    case "npm":
      return `npm:${component.name}`;
    case "pypi":
      return `pypi:${normalisedPythonName(component.name)}`;
    case "maven": {
      const jar = mavenJarName(component);
      return jar === undefined ? undefined : `maven:${jar}`;
    }
    case "golang":
      return undefined;
  }
}

/** The same keys, read from a loaded file's path inside the artifact. */
function nameKeyOfPath(path: string): string | undefined {
  const segments = path.split("/").filter((segment) => segment !== "");
  const modules = segments.lastIndexOf("node_modules");
  if (modules >= 0) {
    const [first, second] = segments.slice(modules + 1);
    if (first === undefined || second === undefined || first.startsWith(".")) return undefined;
    if (!first.startsWith("@")) return `npm:${first}`;
    const scoped = segments[modules + 3] === undefined ? undefined : `${first}/${second}`;
    return scoped === undefined ? undefined : `npm:${scoped}`;
  }
  const jar = segments.at(-1);
  if (jar !== undefined && jar.endsWith(".jar")) return `maven:${jar}`;
  const sitePackages = Math.max(segments.lastIndexOf("site-packages"), segments.lastIndexOf("dist-packages"));
  if (sitePackages < 0) return undefined;
  // A single-file module's bytecode sits in a top-level __pycache__
  const inCache = segments[sitePackages + 1] === "__pycache__";
  const topLevel = segments[sitePackages + (inCache ? 2 : 1)];
  if (topLevel === undefined || topLevel.endsWith(".dist-info")) return undefined;
  // `six.py`, `six.cpython-311.pyc`, `_yaml.cpython-311-x86_64-linux-gnu.so` → the module name
  return `pypi:${normalisedPythonName(topLevel.split(".")[0] ?? topLevel)}`;
}

/** The file name Maven gives the component's jar. */
export function mavenJarName(component: UsageComponent): string | undefined {
  const artifactId = component.name.split(":")[1];
  return artifactId === undefined ? undefined : `${artifactId}-${component.version}.jar`;
}

/** PEP 503, as the SBOM names Python components. */
export function normalisedPythonName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}
