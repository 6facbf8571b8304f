/**
 * `yarn.lock`: classic (v1, its own text format) and berry (YAML with `__metadata`). Neither
 * marks dev packages, so scope comes from what the package.json's runtime dependencies reach.
 * Berry's `checksum` hashes yarn's own zip archive, not the npm tarball, so it is kept as a
 * property and never as a CycloneDX hash.
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { hashesFromIntegrity, hexHash } from "../hashes.js";
import { npmPurl, splitNpmName } from "../purl.js";
import { manifestDependencies, reachableFrom, type PackageManifestDependencies } from "../reachability.js";
import type {
  ComponentHash,
  DependencyEdge,
  EcosystemReader,
  EcosystemReading,
  FoundComponent,
} from "../types.js";

export const YARN_CHECKSUM_PROPERTY = "waybill:yarn:checksum";

/** One resolved package and the descriptors (`name@range`) that lead to it. */
interface LockedPackage {
  descriptors: string[];
  name: string;
  version: string;
  hashes: ComponentHash[];
  checksum?: string;
  /** dependency name → range, as written in the entry */
  dependencies: Record<string, string>;
  /** the project's own workspaces, not components */
  isWorkspace: boolean;
  /** berry `patch:` entries: the same package as the entry they patch */
  patchOf?: string;
}

export const yarnEcosystem: EcosystemReader = {
  name: "yarn",
  detect: (files) => files.filter((file) => basename(file) === "yarn.lock"),
  async read(file) {
    const text = await readFile(file, "utf8");
    const isBerry = /^__metadata:/m.test(text);
    const packages = isBerry ? readBerry(text, (await import("yaml")).parse) : readClassic(text);
    const manifest = await readManifest(join(dirname(file), "package.json"));
    return assemble(packages, manifest, isBerry);
  },
};

function unquote(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}

/** `name@range` → name; the name may itself start with `@`. */
function descriptorName(descriptor: string): string {
  const at = descriptor.indexOf("@", 1);
  return at < 0 ? descriptor : descriptor.slice(0, at);
}

function readClassic(text: string): LockedPackage[] {
  const packages: LockedPackage[] = [];
  let current: (LockedPackage & { integrity?: string; resolved?: string }) | undefined;
  let section: string | undefined;
  const finish = (): void => {
    if (current === undefined) return;
    current.hashes = hashesFromIntegrity(current.integrity);
    // Old entries have no integrity, only the tarball's sha1 after `#` in `resolved`
    const sha1 = current.resolved?.split("#")[1];
    if (current.hashes.length === 0 && sha1 !== undefined) {
      const hash = hexHash("SHA-1", sha1);
      if (hash !== undefined) current.hashes.push(hash);
    }
    packages.push(current);
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const indent = line.length - line.trimStart().length;
    const content = line.trim();
    if (indent === 0) {
      finish();
      const descriptors = content.replace(/:$/, "").split(/,\s*/).map(unquote);
      const first = descriptors[0] ?? "";
      const range = first.slice(descriptorName(first).length + 1);
      // `alias@npm:real@range`: the package is `real`
      const name = range.startsWith("npm:") ? descriptorName(range.slice(4)) : descriptorName(first);
      current = { descriptors, name, version: "", hashes: [], dependencies: {}, isWorkspace: false };
      section = undefined;
    } else if (current !== undefined && indent === 2) {
      if (content.endsWith(":")) {
        section = content.slice(0, -1);
        continue;
      }
      section = undefined;
      const space = content.indexOf(" ");
      const key = content.slice(0, space);
      const value = unquote(content.slice(space + 1));
      if (key === "version") current.version = value;
      else if (key === "integrity") current.integrity = value;
      else if (key === "resolved") current.resolved = value;
    } else if (
      current !== undefined &&
      indent >= 4 &&
      (section === "dependencies" || section === "optionalDependencies")
    ) {
      const space = content.indexOf(" ");
      current.dependencies[unquote(content.slice(0, space))] = unquote(content.slice(space + 1));
    }
  }
  finish();
  return packages;
}

interface BerryEntry {
  version?: string | number;
  resolution?: string;
  checksum?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readBerry(text: string, parseYaml: (text: string) => unknown): LockedPackage[] {
  const lockfile = (parseYaml(text) ?? {}) as Record<string, BerryEntry>;
  const packages: LockedPackage[] = [];
  for (const [key, entry] of Object.entries(lockfile)) {
    if (key === "__metadata" || entry.resolution === undefined) continue;
    const name = descriptorName(entry.resolution);
    const reference = entry.resolution.slice(name.length + 1);
    const protocol = /^([a-z]+):/.exec(reference)?.[1];
    // `patch:ms@npm%3A2.1.2#…` patches the package its inner descriptor resolves to
    const patchOf =
      protocol === "patch" ? decodeURIComponent(reference.slice(6).split("#")[0] ?? "") : undefined;
    packages.push({
      descriptors: key.split(/,\s*/),
      name,
      version: String(entry.version ?? ""),
      hashes: [],
      checksum: entry.checksum,
      dependencies: { ...entry.dependencies, ...entry.optionalDependencies },
      isWorkspace: protocol === "workspace" || protocol === "link" || protocol === "portal",
      patchOf,
    });
  }
  return packages;
}

async function readManifest(file: string): Promise<PackageManifestDependencies | undefined> {
  try {
    return manifestDependencies(JSON.parse(await readFile(file, "utf8")));
  } catch {
    return undefined;
  }
}

function assemble(
  packages: LockedPackage[],
  manifest: PackageManifestDependencies | undefined,
  isBerry: boolean,
): EcosystemReading {
  const warnings: string[] = [];
  const purlByDescriptor = new Map<string, string>();
  const components = new Map<string, FoundComponent>();
  const workspaces: LockedPackage[] = [];
  for (const locked of packages) {
    if (locked.isWorkspace) {
      workspaces.push(locked);
      continue;
    }
    if (locked.patchOf !== undefined) continue;
    if (locked.version === "" || locked.version === "0.0.0-use.local") {
      warnings.push(`${locked.descriptors[0] ?? locked.name} has no registry version, left out`);
      continue;
    }
    const { group, localName } = splitNpmName(locked.name);
    const purl = npmPurl(locked.name, locked.version);
    components.set(purl, {
      ecosystem: "npm",
      name: locked.name,
      version: locked.version,
      purl,
      group,
      localName,
      hashes: locked.hashes,
      scope: "required",
      properties:
        locked.checksum === undefined ? [] : [{ name: YARN_CHECKSUM_PROPERTY, value: locked.checksum }],
    });
    for (const descriptor of locked.descriptors) purlByDescriptor.set(descriptor, purl);
  }
  for (const locked of packages) {
    const target = locked.patchOf === undefined ? undefined : purlByDescriptor.get(locked.patchOf);
    if (target !== undefined)
      for (const descriptor of locked.descriptors) purlByDescriptor.set(descriptor, target);
  }

  // Berry writes `npm:` into ranges that package.json leaves bare
  const descriptorOf = (name: string, range: string): string =>
    isBerry && !/^[a-z]+:/.test(range) ? `${name}@npm:${range}` : `${name}@${range}`;
  const resolveAll = (dependencies: Record<string, string>): string[] =>
    Object.entries(dependencies)
      .map(([name, range]) => purlByDescriptor.get(descriptorOf(name, range)))
      .filter((purl) => purl !== undefined);

  const graph = new Map<string, string[]>();
  const dependencies: DependencyEdge[] = [];
  for (const locked of packages) {
    const from = purlByDescriptor.get(locked.descriptors[0] ?? "");
    if (from === undefined || locked.isWorkspace || locked.patchOf !== undefined) continue;
    const to = resolveAll(locked.dependencies);
    graph.set(from, [...(graph.get(from) ?? []), ...to]);
    if (to.length > 0) dependencies.push({ from, to });
  }

  const nestedWorkspaceRoots = workspaces
    .filter((workspace) => !workspace.descriptors.some((descriptor) => descriptor.endsWith("@workspace:.")))
    .flatMap((workspace) => resolveAll(workspace.dependencies));
  const runtimeRoots =
    manifest === undefined ? [] : [...resolveAll(manifest.runtime), ...nestedWorkspaceRoots];
  const developmentRoots = manifest === undefined ? [] : resolveAll(manifest.development);
  if (manifest !== undefined) {
    const runtime = reachableFrom(runtimeRoots, graph);
    for (const [purl, found] of components) {
      if (runtime.has(purl)) continue;
      found.scope = "optional";
      found.properties.push({ name: "cdx:npm:package:development", value: "true" });
    }
  } else {
    warnings.push("no package.json beside yarn.lock: every package counted as required");
  }
  return {
    components: [...components.values()],
    dependencies,
    directDependencies: [...new Set([...runtimeRoots, ...developmentRoots])],
    warnings,
  };
}
