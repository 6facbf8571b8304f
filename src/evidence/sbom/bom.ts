/**
 * The CycloneDX 1.6 document, built with the official library's models and JSON normaliser.
 * Everything is inserted already sorted (by code point, not locale) and the normaliser keeps
 * that order, so the same inputs give the same bytes.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as EnumsModule from "@cyclonedx/cyclonedx-library/Enums";
import type * as ModelsModule from "@cyclonedx/cyclonedx-library/Models";
import type * as Serialize from "@cyclonedx/cyclonedx-library/Serialize";
import type * as SpecModule from "@cyclonedx/cyclonedx-library/Spec";
import type { FoundComponent } from "./types.js";

// The library is CommonJS: required, not imported, it loads without the ESM loader scanning each
// of its files for named exports, which `waybill sbom` paid on every start.
const requireLibrary = createRequire(import.meta.url);
const Enums = requireLibrary("@cyclonedx/cyclonedx-library/Enums") as typeof EnumsModule;
const Models = requireLibrary("@cyclonedx/cyclonedx-library/Models") as typeof ModelsModule;
const Spec = requireLibrary("@cyclonedx/cyclonedx-library/Spec") as typeof SpecModule;

export type CycloneDxBom = Serialize.JSON.Types.Normalized.Bom;

/**
 * The library's JSON normaliser, loaded from its own module: the public `Serialize` entry also
 * loads the XML serialiser and probes for its optional plugins, which costs about 100 ms of
 * start-up on every `waybill sbom` for nothing. The tests fail if an upgrade moves the file.
 */
function loadJsonNormalizer(): typeof Serialize.JSON.Normalize {
  const require = createRequire(import.meta.url);
  const libraryRoot = dirname(require.resolve("@cyclonedx/cyclonedx-library/package.json"));
  return require(
    join(libraryRoot, "dist.node", "serialize", "json", "normalize.js"),
  ) as typeof Serialize.JSON.Normalize;
}

export interface SbomSubject {
  name: string;
  version?: string;
  /** The artifact digest, `sha256:<hex>` */
  digest?: string;
}

export const ARTIFACT_DIGEST_PROPERTY = "waybill:artifact:digest";

/** RFC 4122's URL namespace: the serial number is a name-based (v5) UUID of the content. */
const UUID_URL_NAMESPACE = Buffer.from("6ba7b8119dad11d180b400c04fd430c8", "hex");

export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function buildBom(
  subject: SbomSubject,
  components: readonly FoundComponent[],
  dependencyGraph: ReadonlyMap<string, ReadonlySet<string>>,
  directDependencies: ReadonlySet<string>,
): CycloneDxBom {
  const bom = new Models.Bom();
  const artifact = artifactComponent(subject);
  bom.metadata.component = artifact;
  bom.metadata.tools.components.add(waybillTool());

  const modelByPurl = new Map<string, ModelsModule.Component>();
  for (const found of [...components].sort((a, b) => compareCodePoints(a.purl, b.purl))) {
    const model = libraryComponent(found);
    modelByPurl.set(found.purl, model);
    bom.components.add(model);
  }
  for (const purl of [...directDependencies].sort(compareCodePoints)) {
    const target = modelByPurl.get(purl);
    if (target !== undefined) artifact.dependencies.add(target.bomRef);
  }
  for (const [from, targets] of dependencyGraph) {
    const source = modelByPurl.get(from);
    if (source === undefined) continue;
    for (const to of [...targets].sort(compareCodePoints)) {
      const target = modelByPurl.get(to);
      if (target !== undefined) source.dependencies.add(target.bomRef);
    }
  }

  const normalizer = new (loadJsonNormalizer().Factory)(Spec.Spec1dot6).makeForBom();
  // A JSON round trip drops the normaliser's `undefined` members, as the serialiser would
  const normalized = JSON.parse(
    JSON.stringify(normalizer.normalize(bom, { sortLists: false })),
  ) as CycloneDxBom;
  normalized.dependencies?.sort((a, b) => compareCodePoints(a.ref, b.ref));
  restoreRepeatedAlgorithms(normalized, components);
  return withSerialNumber(normalized);
}

/**
 * The library keeps one hash per algorithm, but a Python release has one SHA-256 per published
 * file and any of them is a valid hash of the component; the schema allows them all.
 */
function restoreRepeatedAlgorithms(bom: CycloneDxBom, components: readonly FoundComponent[]): void {
  const repeated = new Map<string, FoundComponent["hashes"]>();
  for (const found of components) {
    if (new Set(found.hashes.map((hash) => hash.alg)).size < found.hashes.length)
      repeated.set(found.purl, found.hashes);
  }
  if (repeated.size === 0) return;
  for (const component of bom.components ?? []) {
    const hashes = component.purl === undefined ? undefined : repeated.get(component.purl);
    if (hashes === undefined) continue;
    component.hashes = [...hashes]
      .sort((a, b) => compareCodePoints(a.alg, b.alg) || compareCodePoints(a.content, b.content))
      .map((hash) => ({ alg: hash.alg as EnumsModule.HashAlgorithm, content: hash.content }));
  }
}

function artifactComponent(subject: SbomSubject): ModelsModule.Component {
  const artifact = new Models.Component(Enums.ComponentType.Application, subject.name, {
    bomRef: `artifact:${subject.name}${subject.version === undefined ? "" : `@${subject.version}`}`,
    version: subject.version,
  });
  if (subject.digest !== undefined) {
    const hex = subject.digest.replace(/^sha256:/, "");
    if (/^[0-9a-f]{64}$/.test(hex)) artifact.hashes.set(Enums.HashAlgorithm["SHA-256"], hex);
    artifact.properties.add(new Models.Property(ARTIFACT_DIGEST_PROPERTY, subject.digest));
  }
  return artifact;
}

function libraryComponent(found: FoundComponent): ModelsModule.Component {
  const model = new Models.Component(Enums.ComponentType.Library, found.localName, {
    bomRef: found.purl,
    group: found.group,
    version: found.version,
    purl: found.purl,
    scope: found.scope === "required" ? Enums.ComponentScope.Required : Enums.ComponentScope.Optional,
  });
  for (const hash of [...found.hashes].sort((a, b) => compareCodePoints(a.alg, b.alg))) {
    model.hashes.set(hash.alg as EnumsModule.HashAlgorithm, hash.content);
  }
  const properties = [...found.properties].sort(
    (a, b) => compareCodePoints(a.name, b.name) || compareCodePoints(a.value, b.value),
  );
  for (const property of properties) model.properties.add(new Models.Property(property.name, property.value));
  return model;
}

let waybillVersion: string | undefined | null = null;

/** Waybill's own version, from the package.json above this compiled file. */
function readWaybillVersion(): string | undefined {
  if (waybillVersion !== null) return waybillVersion;
  waybillVersion = undefined;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === "waybill") waybillVersion = manifest.version;
      break;
    } catch {
      // no package.json at this level: keep walking up
    }
  }
  return waybillVersion;
}

function waybillTool(): ModelsModule.Component {
  return new Models.Component(Enums.ComponentType.Application, "waybill", { version: readWaybillVersion() });
}

function withSerialNumber(bom: CycloneDxBom): CycloneDxBom {
  const content = JSON.stringify({ ...bom, serialNumber: undefined });
  const digest = createHash("sha1").update(UUID_URL_NAMESPACE).update(content).digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  // Key order as CycloneDX documents usually have it: serialNumber right after version
  const { bomFormat, specVersion, version, ...rest } = bom;
  return { $schema: bom.$schema, bomFormat, specVersion, serialNumber: `urn:uuid:${uuid}`, version, ...rest };
}
