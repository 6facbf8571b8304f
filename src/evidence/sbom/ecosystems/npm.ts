/**
 * npm `package-lock.json` / `npm-shrinkwrap.json`. Versions 2 and 3 are read from the flat
 * `packages` map (v2 also carries the v1 tree, which adds nothing); version 1 from the nested
 * `dependencies` tree. Dependencies resolve the way Node does: the nearest `node_modules`
 * holding the name, walking up.
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { hashesFromIntegrity } from "../hashes.js";
import { npmPurl, splitNpmName } from "../purl.js";
import type {
  ComponentProperty,
  DependencyEdge,
  EcosystemReader,
  EcosystemReading,
  FoundComponent,
} from "../types.js";

const LOCKFILE_NAMES = new Set(["package-lock.json", "npm-shrinkwrap.json"]);

interface PackagesEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  inBundle?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface TreeEntry {
  version?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  bundled?: boolean;
  requires?: Record<string, string>;
  dependencies?: Record<string, TreeEntry>;
}

interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, PackagesEntry>;
  dependencies?: Record<string, TreeEntry>;
}

export const npmEcosystem: EcosystemReader = {
  name: "npm",
  detect: (files) => files.filter((file) => LOCKFILE_NAMES.has(basename(file))),
  async read(file) {
    const lockfile = JSON.parse(await readFile(file, "utf8")) as Lockfile;
    if (lockfile.packages !== undefined) return readPackagesMap(lockfile.packages);
    if (lockfile.dependencies !== undefined) return readDependencyTree(lockfile.dependencies, file);
    return { components: [], dependencies: [], directDependencies: [], warnings: [`${file}: no packages`] };
  },
};

function component(
  fullName: string,
  version: string,
  integrity: string | undefined,
  flags: { dev: boolean; bundled: boolean },
): FoundComponent {
  const { group, localName } = splitNpmName(fullName);
  const properties: ComponentProperty[] = [];
  // Property names from the CycloneDX npm taxonomy, so other CycloneDX tools read them
  if (flags.dev) properties.push({ name: "cdx:npm:package:development", value: "true" });
  if (flags.bundled) properties.push({ name: "cdx:npm:package:bundled", value: "true" });
  return {
    ecosystem: "npm",
    name: fullName,
    version,
    purl: npmPurl(fullName, version),
    group,
    localName,
    hashes: hashesFromIntegrity(integrity),
    scope: flags.dev ? "optional" : "required",
    properties,
  };
}

/** The package name a `packages` key installs: what follows its last `node_modules/`. */
function nameFromKey(key: string): string {
  const marker = "node_modules/";
  const at = key.lastIndexOf(marker);
  return at < 0 ? key : key.slice(at + marker.length);
}

/** The folder a key's own `node_modules` hangs off, one level up: `a/node_modules/b` → `a`. */
function parentKey(key: string): string | undefined {
  const at = key.lastIndexOf("/node_modules/");
  if (at >= 0) return key.slice(0, at);
  return key === "" ? undefined : "";
}

function readPackagesMap(packages: Record<string, PackagesEntry>): EcosystemReading {
  const warnings: string[] = [];
  const purlByKey = new Map<string, string>();
  const components: FoundComponent[] = [];
  for (const [key, entry] of Object.entries(packages)) {
    // The root, workspace folders and links to them are the project itself, not components
    if (key === "" || entry.link === true || !key.includes("node_modules/")) continue;
    const fullName = entry.name ?? nameFromKey(key);
    if (entry.version === undefined) {
      warnings.push(`package-lock: ${key} has no version, left out`);
      continue;
    }
    const found = component(fullName, entry.version, entry.integrity, {
      dev: entry.dev === true || entry.devOptional === true,
      bundled: entry.inBundle === true,
    });
    components.push(found);
    purlByKey.set(key, found.purl);
  }

  // Folders holding a node_modules of their own: the walk up looks only in those
  const nesting = new Set<string>();
  for (const key of Object.keys(packages)) {
    if (key.includes("node_modules/")) nesting.add(parentKey(key) ?? "");
  }

  const resolve = (fromKey: string, dependencyName: string): string | undefined => {
    for (let base: string | undefined = fromKey; base !== undefined; base = parentKey(base)) {
      if (!nesting.has(base)) continue;
      const candidate =
        base === "" ? `node_modules/${dependencyName}` : `${base}/node_modules/${dependencyName}`;
      const target = packages[candidate];
      if (target === undefined) continue;
      // A link into a workspace folder is the project's own code
      return target.link === true ? undefined : purlByKey.get(candidate);
    }
    return undefined;
  };

  const dependencies: DependencyEdge[] = [];
  const directDependencies = new Set<string>();
  for (const [key, entry] of Object.entries(packages)) {
    if (entry.link === true) continue;
    const from = purlByKey.get(key);
    const names: string[] = [];
    for (const declared of [
      entry.dependencies,
      entry.optionalDependencies,
      entry.peerDependencies,
      // The root and workspace folders: what they depend on is what the project depends on
      from === undefined ? entry.devDependencies : undefined,
    ]) {
      if (declared !== undefined) for (const name in declared) names.push(name);
    }
    if (from === undefined) {
      for (const name of names) {
        const target = resolve(key, name);
        if (target !== undefined) directDependencies.add(target);
      }
      continue;
    }
    const to = names.map((name) => resolve(key, name)).filter((purl) => purl !== undefined);
    if (to.length > 0) dependencies.push({ from, to });
  }
  return { components, dependencies, directDependencies: [...directDependencies], warnings };
}

/** `npm:real-name@1.0.0` (an alias) → the real name and version. */
function parseAliasVersion(version: string): { name: string; version: string } | undefined {
  if (!version.startsWith("npm:")) return undefined;
  const spec = version.slice("npm:".length);
  const at = spec.lastIndexOf("@");
  return at > 0 ? { name: spec.slice(0, at), version: spec.slice(at + 1) } : undefined;
}

/** Registry versions only: `file:`, `link:`, git and tarball URLs are not name@version. */
function isLocalOrUrl(version: string): boolean {
  return /^(file|link):/.test(version) || version.includes("://") || version.includes("/");
}

async function readDependencyTree(tree: Record<string, TreeEntry>, file: string): Promise<EcosystemReading> {
  const warnings: string[] = [];
  const components: FoundComponent[] = [];
  const dependencies: DependencyEdge[] = [];

  /** One level of nesting: the purls of the entries it holds, by the name they install as. */
  interface Level {
    purls: Map<string, string>;
    parent?: Level;
  }

  const resolve = (level: Level, name: string): string | undefined => {
    for (let at: Level | undefined = level; at !== undefined; at = at.parent) {
      const purl = at.purls.get(name);
      if (purl !== undefined) return purl;
    }
    return undefined;
  };

  // Edges wait until every level is known: `requires` may point at a sibling declared later
  const pendingEdges: Array<() => void> = [];
  const visit = (entries: Record<string, TreeEntry>, parent: Level | undefined): Level => {
    const level: Level = { purls: new Map(), parent };
    for (const [key, entry] of Object.entries(entries)) {
      const version = entry.version ?? "";
      const alias = parseAliasVersion(version);
      let from: string | undefined;
      if (alias !== undefined || (version !== "" && !isLocalOrUrl(version))) {
        const found = component(alias?.name ?? key, alias?.version ?? version, entry.integrity, {
          dev: entry.dev === true,
          bundled: entry.bundled === true,
        });
        components.push(found);
        from = found.purl;
        level.purls.set(key, from);
      } else if (!/^(file|link):/.test(version)) {
        warnings.push(`${basename(file)}: ${key}@${version} is not from a registry, left out`);
      }
      if (entry.dependencies !== undefined) visit(entry.dependencies, level);
      const requires = Object.keys(entry.requires ?? {});
      if (from !== undefined && requires.length > 0) {
        const source = from;
        pendingEdges.push(() => {
          const to = requires.map((name) => resolve(level, name)).filter((target) => target !== undefined);
          if (to.length > 0) dependencies.push({ from: source, to });
        });
      }
    }
    return level;
  };
  const top = visit(tree, undefined);
  for (const addEdges of pendingEdges) addEdges();

  const manifestNames = await manifestDependencyNames(join(dirname(file), "package.json"));
  const directDependencies = manifestNames
    .map((name) => top.purls.get(name))
    .filter((purl) => purl !== undefined);
  return { components, dependencies, directDependencies, warnings };
}

/** Version 1 has no root entry; the package.json beside it names the direct dependencies. */
async function manifestDependencyNames(manifestFile: string): Promise<string[]> {
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(await readFile(manifestFile, "utf8")) as Record<string, unknown>;
  } catch {
    return [];
  }
  return ["dependencies", "devDependencies", "optionalDependencies"].flatMap((field) => {
    const value = manifest[field];
    return typeof value === "object" && value !== null ? Object.keys(value) : [];
  });
}
