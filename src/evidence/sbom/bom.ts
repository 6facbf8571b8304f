/**
 * The CycloneDX 1.6 JSON document, written straight from the components the readers found.
 * Members come in the order the official library's JSON normaliser gives them, and every list is
 * built already sorted (by code point, not locale), so the same inputs give the same bytes. The
 * tests hold each document to the official 1.6 schema; `waybill sbom` does not load the library,
 * whose models, normaliser and some sixty CommonJS files were about a quarter of its CPU time.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  ComponentHash,
  ComponentProperty,
  ComponentScope,
  FoundComponent,
  HashAlgorithm,
} from "./types.js";

export interface CycloneDxHash {
  alg: HashAlgorithm;
  content: string;
}

export interface CycloneDxComponent {
  type: "application" | "library";
  name: string;
  group?: string;
  version?: string;
  "bom-ref"?: string;
  scope?: ComponentScope;
  hashes?: CycloneDxHash[];
  purl?: string;
  properties?: ComponentProperty[];
}

export interface CycloneDxDependency {
  ref: string;
  /** Left out when the component depends on nothing */
  dependsOn?: string[];
}

/** The members Waybill writes; the schema allows many more. */
export interface CycloneDxBom {
  $schema: string;
  bomFormat: "CycloneDX";
  specVersion: "1.6";
  serialNumber: string;
  version: number;
  metadata: {
    tools: { components: CycloneDxComponent[] };
    component: CycloneDxComponent;
  };
  components: CycloneDxComponent[];
  dependencies: CycloneDxDependency[];
}

export interface SbomSubject {
  name: string;
  version?: string;
  /** The artifact digest, `sha256:<hex>` */
  digest?: string;
}

export const ARTIFACT_DIGEST_PROPERTY = "waybill:artifact:digest";

const SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json";

/** The schema's `hash-content` pattern, as lengths and digits: a hash it would refuse is left out. */
const HASH_CONTENT_LENGTHS = new Set([32, 40, 64, 96, 128]);
const HEX_DIGITS = /^[0-9a-fA-F]+$/;

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
  const sorted = [...components].sort((a, b) => compareCodePoints(a.purl, b.purl));
  const known = new Set(sorted.map((found) => found.purl));
  const artifact = artifactComponent(subject);
  const artifactRef = artifact["bom-ref"] ?? "";

  const dependencies: CycloneDxDependency[] = [
    dependency(
      artifactRef,
      [...directDependencies].filter((purl) => known.has(purl)).sort(compareCodePoints),
    ),
  ];
  for (const found of sorted) {
    const targets = dependencyGraph.get(found.purl);
    const dependsOn =
      targets === undefined
        ? []
        : [...targets].filter((to) => to !== found.purl && known.has(to)).sort(compareCodePoints);
    dependencies.push(dependency(found.purl, dependsOn));
  }
  dependencies.sort((a, b) => compareCodePoints(a.ref, b.ref));

  // Without the serial number, which is a digest of this
  const content = {
    $schema: SCHEMA_URL,
    bomFormat: "CycloneDX" as const,
    specVersion: "1.6" as const,
    version: 1,
    metadata: { tools: { components: [waybillTool()] }, component: artifact },
    components: sorted.map(libraryComponent),
    dependencies,
  };
  const { $schema, bomFormat, specVersion, version, ...rest } = content;
  // Member order as CycloneDX documents usually have it: serialNumber right after specVersion
  return {
    $schema,
    bomFormat,
    specVersion,
    serialNumber: serialNumberOf(JSON.stringify(content)),
    version,
    ...rest,
  };
}

function dependency(ref: string, dependsOn: string[]): CycloneDxDependency {
  return dependsOn.length > 0 ? { ref, dependsOn } : { ref };
}

function artifactComponent(subject: SbomSubject): CycloneDxComponent {
  const artifact: CycloneDxComponent = { type: "application", name: subject.name };
  if (subject.version) artifact.version = subject.version;
  artifact["bom-ref"] =
    `artifact:${subject.name}${subject.version === undefined ? "" : `@${subject.version}`}`;
  if (subject.digest !== undefined) {
    const hex = subject.digest.replace(/^sha256:/, "");
    if (/^[0-9a-f]{64}$/.test(hex)) artifact.hashes = [{ alg: "SHA-256", content: hex }];
    artifact.properties = [{ name: ARTIFACT_DIGEST_PROPERTY, value: subject.digest }];
  }
  return artifact;
}

/** Members are added in the order CycloneDX documents give them; empty ones are left out. */
function libraryComponent(found: FoundComponent): CycloneDxComponent {
  const component: CycloneDxComponent = { type: "library", name: found.localName };
  if (found.group) component.group = found.group;
  if (found.version) component.version = found.version;
  component["bom-ref"] = found.purl;
  component.scope = found.scope;
  const hashes = componentHashes(found.hashes);
  if (hashes.length > 0) component.hashes = hashes;
  component.purl = found.purl;
  if (found.properties.length > 0) {
    component.properties = found.properties
      .map(({ name, value }) => ({ name, value }))
      .sort((a, b) => compareCodePoints(a.name, b.name) || compareCodePoints(a.value, b.value));
  }
  return component;
}

/**
 * Usually one hash per algorithm. A Python release has one SHA-256 per published file and any of
 * them is a valid hash of the component, so all are listed, which the schema allows.
 */
function componentHashes(found: readonly ComponentHash[]): CycloneDxHash[] {
  return found
    .filter((hash) => HASH_CONTENT_LENGTHS.has(hash.content.length) && HEX_DIGITS.test(hash.content))
    .map(({ alg, content }) => ({ alg, content }))
    .sort((a, b) => compareCodePoints(a.alg, b.alg) || compareCodePoints(a.content, b.content));
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

function waybillTool(): CycloneDxComponent {
  const version = readWaybillVersion();
  return version
    ? { type: "application", name: "waybill", version }
    : { type: "application", name: "waybill" };
}

function serialNumberOf(content: string): string {
  const digest = createHash("sha1").update(UUID_URL_NAMESPACE).update(content).digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
