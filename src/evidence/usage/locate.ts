/**
 * Where each component sits in an artifact folder and what it weighs there (I/O; see README.md):
 * npm packages by the name and version in their package.json, Python distributions by the files
 * their `*.dist-info/RECORD` lists, Maven artifacts by their `<artifact>-<version>.jar`.
 */
import { lstat, readdir, readFile, realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import {
  mavenJarName,
  normalisedPythonName,
  type PackageLocation,
  type UsageComponent,
} from "./unused-packages.js";

export interface LocatedPackages {
  /** The artifact folder's real path, as the paths the load recorder reads are */
  artifactRoot: string;
  /** By purl; a component found nowhere in the folder has no entry */
  packageLocations: Map<string, PackageLocation>;
  artifactBytes: number;
}

interface FolderContents {
  /** Bytes of the regular files under each folder, at any depth */
  folderBytes: Map<string, number>;
  npmPackageFolders: string[];
  distInfoFolders: string[];
  jars: Array<{ path: string; bytes: number }>;
}

export async function locatePackages(
  artifactRoot: string,
  components: readonly UsageComponent[],
): Promise<LocatedPackages> {
  const root = await realpath(artifactRoot);
  const contents: FolderContents = {
    folderBytes: new Map(),
    npmPackageFolders: [],
    distInfoFolders: [],
    jars: [],
  };
  await walk(root, contents);

  const purlsByKey = new Map<string, string[]>();
  for (const component of components) {
    const key = componentKey(component);
    if (key !== undefined) purlsByKey.set(key, [...(purlsByKey.get(key) ?? []), component.purl]);
  }
  const packageLocations = new Map<string, PackageLocation>();
  const place = (key: string, paths: string[], bytes: number) => {
    for (const purl of purlsByKey.get(key) ?? []) {
      const known = packageLocations.get(purl);
      packageLocations.set(purl, {
        paths: [...(known?.paths ?? []), ...paths],
        bytes: (known?.bytes ?? 0) + bytes,
      });
    }
  };

  for (const folder of contents.npmPackageFolders) {
    const manifest = await npmManifest(folder);
    if (manifest === undefined) continue;
    // Nested node_modules hold other packages, counted for themselves
    const ownBytes =
      (contents.folderBytes.get(folder) ?? 0) - (contents.folderBytes.get(join(folder, "node_modules")) ?? 0);
    place(npmKey(manifest.name, manifest.version), [folder], ownBytes);
  }
  for (const folder of contents.distInfoFolders) {
    const distribution = await pythonDistribution(folder, root);
    if (distribution === undefined) continue;
    place(pypiKey(distribution.name, distribution.version), distribution.files, distribution.bytes);
  }
  for (const jar of contents.jars) place(jarKey(basename(jar.path)), [jar.path], jar.bytes);

  return { artifactRoot: root, packageLocations, artifactBytes: contents.folderBytes.get(root) ?? 0 };
}

/** Regular files only: a symbolic link (pnpm's, a venv's) points at bytes counted where they are. */
async function walk(folder: string, contents: FolderContents): Promise<number> {
  const entries = await readdir(folder, { withFileTypes: true });
  const name = basename(folder);
  const parent = basename(dirname(folder));
  const inNodeModules =
    parent === "node_modules" ||
    (parent.startsWith("@") && basename(dirname(dirname(folder))) === "node_modules");
  if (inNodeModules && !name.startsWith(".") && !name.startsWith("@"))
    contents.npmPackageFolders.push(folder);
  if (name.endsWith(".dist-info")) contents.distInfoFolders.push(folder);

  const sizes = await Promise.all(
    entries.map(async (entry): Promise<number> => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return walk(path, contents);
      if (!entry.isFile()) return 0;
      const { size } = await lstat(path);
      if (entry.name.endsWith(".jar")) contents.jars.push({ path, bytes: size });
      return size;
    }),
  );
  const bytes = sizes.reduce((sum, size) => sum + size, 0);
  contents.folderBytes.set(folder, bytes);
  return bytes;
}

async function npmManifest(folder: string): Promise<{ name: string; version: string } | undefined> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(join(folder, "package.json"), "utf8"));
  } catch {
    return undefined;
  }
  if (typeof manifest !== "object" || manifest === null) return undefined;
  const { name, version } = manifest as Record<string, unknown>;
  return typeof name === "string" && typeof version === "string" ? { name, version } : undefined;
}

interface PythonDistribution {
  name: string;
  version: string;
  files: string[];
  bytes: number;
}

/** A distribution installed by pip: METADATA names it, RECORD lists its files beside the folder. */
async function pythonDistribution(distInfo: string, root: string): Promise<PythonDistribution | undefined> {
  const [metadata, record] = await Promise.all([
    readFile(join(distInfo, "METADATA"), "utf8").catch(() => undefined),
    readFile(join(distInfo, "RECORD"), "utf8").catch(() => undefined),
  ]);
  const name = metadata === undefined ? undefined : metadataField(metadata, "Name");
  const version = metadata === undefined ? undefined : metadataField(metadata, "Version");
  if (name === undefined || version === undefined || record === undefined) return undefined;
  const installedInto = dirname(distInfo);
  const files: string[] = [];
  let bytes = 0;
  for (const recorded of recordPaths(record)) {
    const path = resolve(installedInto, recorded);
    if (!path.startsWith(`${root}/`)) continue;
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    files.push(path);
    bytes += info.size;
  }
  return { name, version, files, bytes };
}

/** A header of the core metadata (RFC 822 style), which ends at the first empty line. */
function metadataField(metadata: string, field: string): string | undefined {
  for (const line of metadata.split(/\r?\n/)) {
    if (line === "") return undefined;
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).toLowerCase() === field.toLowerCase())
      return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** RECORD is CSV: path, hash, size; a path holding a comma or quote is quoted. */
function recordPaths(record: string): string[] {
  return record
    .split(/\r?\n/)
    .filter((line) => line !== "")
    .map((line) => (line.startsWith('"') ? quotedField(line) : (line.split(",")[0] ?? "")))
    .filter((path) => path !== "");
}

function quotedField(line: string): string {
  let field = "";
  for (let at = 1; at < line.length; at++) {
    const char = line[at];
    if (char !== '"') field += char;
    else if (line[at + 1] === '"') field += line[++at];
    else break;
  }
  return field;
}

function componentKey(component: UsageComponent): string | undefined {
  switch (component.ecosystem) {
    case "npm":
      return npmKey(component.name, component.version);
    case "pypi":
      return pypiKey(component.name, component.version);
    case "maven": {
      const jar = mavenJarName(component);
      return jar === undefined ? undefined : jarKey(jar);
    }
    case "golang":
      return undefined;
  }
}

const npmKey = (name: string, version: string) => `npm ${name}@${version}`;
const pypiKey = (name: string, version: string) => `pypi ${normalisedPythonName(name)}@${version}`;
const jarKey = (fileName: string) => `maven ${fileName}`;
