/**
 * `pnpm-lock.yaml`, lockfile versions 5.x, 6 and 9. Package keys are `/name/1.0.0_peers` (5.x),
 * `/name@1.0.0(peers)` (6) or `name@1.0.0` with the graph under `snapshots:` (9). Version 9
 * dropped the `dev` flag, so scope comes from what the importers' runtime dependencies reach.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { hashesFromIntegrity } from "../hashes.js";
import { npmPurl, splitNpmName } from "../purl.js";
import { reachableFrom } from "../reachability.js";
import type { DependencyEdge, EcosystemReader, FoundComponent } from "../types.js";

interface PackageEntry {
  name?: string;
  version?: string;
  resolution?: { integrity?: string; tarball?: string };
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

type ImporterDependencies = Record<string, string | { version?: string }>;

interface Importer {
  dependencies?: ImporterDependencies;
  optionalDependencies?: ImporterDependencies;
  devDependencies?: ImporterDependencies;
}

interface PnpmLockfile extends Importer {
  lockfileVersion?: string | number;
  importers?: Record<string, Importer>;
  packages?: Record<string, PackageEntry>;
  snapshots?: Record<string, PackageEntry>;
}

export const pnpmEcosystem: EcosystemReader = {
  name: "pnpm",
  detect: (files) => files.filter((file) => basename(file) === "pnpm-lock.yaml"),
  async read(file) {
    const { parse: parseYaml } = await import("yaml");
    const lockfile = (parseYaml(await readFile(file, "utf8")) ?? {}) as PnpmLockfile;
    const legacyKeys = Number.parseFloat(String(lockfile.lockfileVersion ?? "9")) < 6;
    const warnings: string[] = [];

    // `name@version` (peers stripped) → the component; several peer variants share one
    const byId = new Map<string, FoundComponent>();
    const devFlags = new Map<string, boolean | undefined>();
    for (const [key, entry] of Object.entries(lockfile.packages ?? {})) {
      const parsed = parsePackageKey(key, legacyKeys);
      const name = entry.name ?? parsed?.name;
      const version = entry.version ?? parsed?.version;
      if (name === undefined || version === undefined) {
        warnings.push(`cannot read package key ${key}, left out`);
        continue;
      }
      const id = `${name}@${version}`;
      if (!byId.has(id)) byId.set(id, component(name, version, entry.resolution?.integrity));
      if (parsed !== undefined) devFlags.set(parsed.id, entry.dev);
      if (parsed !== undefined && parsed.id !== id) byId.set(parsed.id, byId.get(id) as FoundComponent);
    }

    const graphSource = lockfile.snapshots ?? lockfile.packages ?? {};
    const graph = new Map<string, Set<string>>();
    for (const [key, entry] of Object.entries(graphSource)) {
      const from = parsePackageKey(key, legacyKeys)?.id;
      if (from === undefined || !byId.has(from)) continue;
      const targets = graph.get(from) ?? new Set<string>();
      for (const [name, ref] of dependencyRefs(entry)) {
        const to = referencedId(name, ref, legacyKeys);
        if (to !== undefined && byId.has(to)) targets.add(to);
      }
      graph.set(from, targets);
    }

    const importers = lockfile.importers ?? { ".": lockfile };
    const runtimeRoots: string[] = [];
    const developmentRoots: string[] = [];
    for (const importer of Object.values(importers)) {
      for (const [field, roots] of [
        ["dependencies", runtimeRoots],
        ["optionalDependencies", runtimeRoots],
        ["devDependencies", developmentRoots],
      ] as const) {
        for (const [name, value] of Object.entries(importer[field] ?? {})) {
          const ref = typeof value === "string" ? value : value.version;
          const id = ref === undefined ? undefined : referencedId(name, ref, legacyKeys);
          if (id !== undefined && byId.has(id)) roots.push(id);
        }
      }
    }

    // Version 6 and older say dev: true/false per package (absent means both); 9 needs the walk
    const hasDevFlags = [...devFlags.values()].some((flag) => flag !== undefined);
    const runtime = hasDevFlags ? undefined : reachableFrom(runtimeRoots, graph);
    const components = new Map<string, FoundComponent>();
    for (const [id, found] of byId) {
      const isDev = runtime === undefined ? devFlags.get(id) === true : !runtime.has(id);
      const known = components.get(found.purl);
      if (known === undefined || known.scope === "optional") {
        components.set(found.purl, isDev ? asDevelopment(found) : found);
      }
    }

    const dependencies: DependencyEdge[] = [];
    for (const [from, targets] of graph) {
      const source = byId.get(from)?.purl;
      const to = [...targets].map((id) => byId.get(id)?.purl).filter((purl) => purl !== undefined);
      if (source !== undefined && to.length > 0) dependencies.push({ from: source, to });
    }
    const directDependencies = [...runtimeRoots, ...developmentRoots]
      .map((id) => byId.get(id)?.purl)
      .filter((purl) => purl !== undefined);
    return { components: [...components.values()], dependencies, directDependencies, warnings };
  },
};

function component(name: string, version: string, integrity: string | undefined): FoundComponent {
  const { group, localName } = splitNpmName(name);
  return {
    ecosystem: "npm",
    name,
    version,
    purl: npmPurl(name, version),
    group,
    localName,
    hashes: hashesFromIntegrity(integrity),
    scope: "required",
    properties: [],
  };
}

function asDevelopment(found: FoundComponent): FoundComponent {
  return {
    ...found,
    scope: "optional",
    properties: [...found.properties, { name: "cdx:npm:package:development", value: "true" }],
  };
}

function dependencyRefs(entry: PackageEntry): Array<[string, string]> {
  return [...Object.entries(entry.dependencies ?? {}), ...Object.entries(entry.optionalDependencies ?? {})];
}

/** Peer suffixes say which peers a copy was resolved with; the package is the same. */
function withoutPeers(text: string, legacyKeys: boolean): string {
  const paren = text.indexOf("(");
  const bare = paren < 0 ? text : text.slice(0, paren);
  if (!legacyKeys) return bare;
  const underscore = bare.indexOf("_");
  return underscore < 0 ? bare : bare.slice(0, underscore);
}

function parsePackageKey(
  key: string,
  legacyKeys: boolean,
): { id: string; name: string; version: string } | undefined {
  const bare = withoutPeers(key.startsWith("/") ? key.slice(1) : key, legacyKeys);
  // 5.x: `@scope/name/1.0.0`; 6 and 9: `@scope/name@1.0.0`
  const separator = legacyKeys ? bare.lastIndexOf("/") : bare.lastIndexOf("@");
  if (separator <= 0) return undefined;
  const name = bare.slice(0, separator);
  const version = bare.slice(separator + 1);
  return { id: `${name}@${version}`, name, version };
}

/** A dependency's version as written in importers and snapshots, as a `name@version` id. */
function referencedId(name: string, ref: string, legacyKeys: boolean): string | undefined {
  if (/^(link|file|workspace):/.test(ref)) return undefined;
  if (ref.startsWith("/")) return parsePackageKey(ref, legacyKeys)?.id;
  const bare = withoutPeers(ref, legacyKeys);
  // An alias names the real package: `ms@2.0.0` where a version would be
  return bare.lastIndexOf("@") > 0 ? parsePackageKey(bare, false)?.id : `${name}@${bare}`;
}
