/**
 * Maven artifacts inside jars: every `META-INF/maven/<group>/<artifact>/pom.properties`, in the
 * artifact's jars and wars and in the jars nested inside them (Spring Boot `BOOT-INF/lib`,
 * `WEB-INF/lib`, any `*.jar` entry), to any depth. A jar's SHA-256 and SHA-1 belong to the one
 * artifact the jar is: the only pom.properties in it, or the one its file name names. Other
 * pom.properties in the same jar were shaded into it and get no hash of their own.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { mavenPurl } from "../purl.js";
import type { ComponentHash, EcosystemReader, EcosystemReading, FoundComponent } from "../types.js";

export const MAVEN_LOCATION_PROPERTY = "waybill:maven:location";
export const MAVEN_SHADED_PROPERTY = "waybill:maven:shaded";

const ARCHIVE = /\.(jar|war|ear)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
/** Nesting deeper than this is not a real build layout and could be a zip bomb. */
const MAX_NESTING = 4;

export const mavenEcosystem: EcosystemReader = {
  name: "maven",
  detect: (files) => files.filter((file) => ARCHIVE.test(file)),
  async read(file) {
    const reading: EcosystemReading = {
      components: [],
      dependencies: [],
      directDependencies: [],
      warnings: [],
    };
    const zip = await import("fflate");
    readArchive(zip, await readFile(file), basename(file), 0, reading, true);
    // Warnings are reported against the archive already; say only where inside it
    const prefix = `${basename(file)}!/`;
    reading.warnings = reading.warnings.map((warning) =>
      warning.startsWith(prefix) ? warning.slice(prefix.length) : warning,
    );
    return reading;
  },
};

type Zip = typeof import("fflate");

/** Only the entries the reader looks at are inflated: a fat jar is mostly classes. */
function archiveEntries(zip: Zip, archive: Uint8Array): [name: string, content: Uint8Array][] {
  const wanted = zip.unzipSync(archive, {
    filter: (file) => POM_PROPERTIES.test(file.name) || (ARCHIVE.test(file.name) && !file.name.endsWith("/")),
  });
  return Object.entries(wanted);
}

function readArchive(
  zip: Zip,
  archive: Uint8Array,
  location: string,
  depth: number,
  reading: EcosystemReading,
  topLevel: boolean,
): void {
  let entries: [name: string, content: Uint8Array][];
  try {
    entries = archiveEntries(zip, archive);
  } catch (error) {
    reading.warnings.push(`${location} is not a readable zip (${(error as Error).message}), skipped`);
    return;
  }
  const coordinates: Array<{ groupId: string; artifactId: string; version: string }> = [];
  for (const [name, content] of entries) {
    if (POM_PROPERTIES.test(name)) {
      const properties = parseProperties(zip.strFromU8(content));
      const { groupId, artifactId, version } = properties;
      if (groupId !== undefined && artifactId !== undefined && version !== undefined) {
        coordinates.push({ groupId, artifactId, version });
      } else {
        reading.warnings.push(`${location}!/${name} lacks groupId, artifactId or version`);
      }
    } else if (depth >= MAX_NESTING) {
      reading.warnings.push(`${location}!/${name} is nested too deep, skipped`);
    } else {
      readArchive(zip, content, `${location}!/${name}`, depth + 1, reading, false);
    }
  }
  const jarName = basename(location.split("!/").at(-1) ?? location).replace(ARCHIVE, "");
  const own =
    coordinates.length === 1
      ? coordinates[0]
      : coordinates.find(({ artifactId, version }) => jarName === `${artifactId}-${version}`);
  if (coordinates.length === 0 && !/\.(war|ear)$/i.test(location)) {
    reading.warnings.push(`${location} has no META-INF/maven pom.properties, not listed`);
  }
  for (const coordinate of coordinates) {
    const isOwn = coordinate === own;
    const found = mavenComponent(coordinate, isOwn ? jarHashes(archive) : [], location, !isOwn);
    reading.components.push(found);
    if (topLevel || depth === 1) reading.directDependencies.push(found.purl);
  }
}

function jarHashes(archive: Uint8Array): ComponentHash[] {
  return [
    { alg: "SHA-1", content: createHash("sha1").update(archive).digest("hex") },
    { alg: "SHA-256", content: createHash("sha256").update(archive).digest("hex") },
  ];
}

function mavenComponent(
  { groupId, artifactId, version }: { groupId: string; artifactId: string; version: string },
  hashes: ComponentHash[],
  location: string,
  shaded: boolean,
): FoundComponent {
  const properties = [{ name: MAVEN_LOCATION_PROPERTY, value: location }];
  if (shaded) properties.push({ name: MAVEN_SHADED_PROPERTY, value: "true" });
  return {
    ecosystem: "maven",
    name: `${groupId}:${artifactId}`,
    version,
    purl: mavenPurl(groupId, artifactId, version),
    group: groupId,
    localName: artifactId,
    hashes,
    scope: "required",
    properties,
  };
}

/** Java .properties as Maven writes pom.properties: `key=value` lines, `#` comments. */
export function parseProperties(text: string): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith("!")) continue;
    const separator = trimmed.search(/[=:]/);
    if (separator < 0) continue;
    properties[trimmed.slice(0, separator).trim()] = trimmed.slice(separator + 1).trim();
  }
  return properties;
}
