/**
 * SBOM from lockfiles (docs/design.md "Evidence and recall"): every ecosystem reader picks its files
 * from the artifact folder, the readings are merged by purl, and the result is a CycloneDX 1.6
 * document whose metadata names the artifact and its digest.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { UserError } from "../../errors.js";
import { artifactDigest } from "../../artifact/digest.js";
import { buildBom, compareCodePoints, type CycloneDxBom } from "./bom.js";
import { ecosystemReaders } from "./ecosystems/index.js";
import { findFiles } from "./files.js";
import type { ComponentHash, ComponentScope, Ecosystem, FoundComponent } from "./types.js";

export type { CycloneDxBom } from "./bom.js";
export { ARTIFACT_DIGEST_PROPERTY } from "./bom.js";
export { purlFor, normalisePypiName } from "./purl.js";
export type { ComponentHash, ComponentScope, Ecosystem, FoundComponent } from "./types.js";

export interface SbomOptions {
  /** Defaults to waybill.yaml's metadata.name, else the folder name */
  name?: string;
  version?: string;
  /** `sha256:<hex>`; computed from the folder when left out */
  digest?: string;
}

export interface GeneratedSbom {
  bom: CycloneDxBom;
  warnings: string[];
}

/** One line of the inventory: what the lead's recall and drift checks index. */
export interface InventoryComponent {
  purl: string;
  name: string;
  version: string;
  ecosystem: Ecosystem;
  hashes: ComponentHash[];
  scope: ComponentScope;
}

export interface ComponentListing {
  components: FoundComponent[];
  /** purl → the purls it depends on */
  dependencyGraph: Map<string, Set<string>>;
  directDependencies: Set<string>;
  warnings: string[];
}

export async function generateSbom(dir: string, options: SbomOptions = {}): Promise<GeneratedSbom> {
  const root = await requireDirectory(dir);
  const [listing, digest, name] = await Promise.all([
    readComponents(root),
    options.digest ?? artifactDigest(root),
    options.name ?? serviceName(root),
  ]);
  const bom = buildBom(
    { name, version: options.version, digest },
    listing.components,
    listing.dependencyGraph,
    listing.directDependencies,
  );
  return { bom, warnings: listing.warnings };
}

/** The components without the CycloneDX document, sorted by purl. */
export async function listComponents(dir: string): Promise<InventoryComponent[]> {
  const listing = await readComponents(await requireDirectory(dir));
  return listing.components.map(({ purl, name, version, ecosystem, hashes, scope }) => ({
    purl,
    name,
    version,
    ecosystem,
    hashes,
    scope,
  }));
}

/** Every reader over the folder, merged by purl: the same package twice is one component. */
export async function readComponents(root: string): Promise<ComponentListing> {
  const files = await findFiles(root, () => true);
  const byPurl = new Map<string, FoundComponent>();
  const dependencyGraph = new Map<string, Set<string>>();
  const directDependencies = new Set<string>();
  const warnings: string[] = [];
  for (const reader of ecosystemReaders) {
    for (const file of reader.detect(files)) {
      const reading = await reader.read(file);
      const where = relative(root, file) || basename(file);
      warnings.push(...reading.warnings.map((warning) => `${where}: ${warning}`));
      for (const found of reading.components) {
        const known = byPurl.get(found.purl);
        // merged() builds a new component, so a reading's own is never changed
        byPurl.set(found.purl, known === undefined ? found : merged(known, found));
      }
      for (const edge of reading.dependencies) {
        const targets = dependencyGraph.get(edge.from) ?? new Set<string>();
        for (const to of edge.to) if (to !== edge.from) targets.add(to);
        dependencyGraph.set(edge.from, targets);
      }
      for (const purl of reading.directDependencies) directDependencies.add(purl);
    }
  }
  const components = [...byPurl.values()].sort((a, b) => compareCodePoints(a.purl, b.purl));
  return { components, dependencyGraph, directDependencies, warnings };
}

/** Required anywhere means required; hashes and properties are the union of both sightings. */
function merged(known: FoundComponent, found: FoundComponent): FoundComponent {
  const hashes = [...known.hashes];
  for (const hash of found.hashes) {
    if (!hashes.some((have) => have.alg === hash.alg && have.content === hash.content)) hashes.push(hash);
  }
  const properties = [...known.properties];
  for (const property of found.properties) {
    if (!properties.some((have) => have.name === property.name && have.value === property.value)) {
      properties.push(property);
    }
  }
  const scope = known.scope === "required" || found.scope === "required" ? "required" : "optional";
  return { ...known, hashes, properties, scope };
}

async function requireDirectory(dir: string): Promise<string> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (info === undefined) throw new UserError(`sbom: ${dir} does not exist`);
  if (!info.isDirectory()) throw new UserError(`sbom: ${dir} is not a directory`);
  return root;
}

/** waybill.yaml's metadata.name when there is one, else the folder's own name. */
async function serviceName(root: string): Promise<string> {
  try {
    const text = await readFile(join(root, "waybill.yaml"), "utf8");
    // Loaded on demand: parsers and the zip reader cost start-up time a CI step pays
    const { parse: parseYaml } = await import("yaml");
    const spec = parseYaml(text) as unknown;
    const name = (spec as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    if (typeof name === "string" && name !== "") return name;
  } catch {
    // no waybill.yaml, or one that `waybill validate` will report: the folder name will do
  }
  return basename(root);
}
