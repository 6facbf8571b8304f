/**
 * Python: pinned `requirements*.txt` (pip's format) and `poetry.lock`. A Python package is
 * published as several files (sdist and one wheel per platform), each with its own SHA-256;
 * requirements `--hash` options and poetry's `files` list all of them, so a component can carry
 * several SHA-256 hashes, any one of which the installed file matches.
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { hexHash } from "../hashes.js";
import { normalisePypiName, pypiPurl } from "../purl.js";
import { reachableFrom } from "../reachability.js";
import type {
  ComponentHash,
  DependencyEdge,
  EcosystemReader,
  EcosystemReading,
  FoundComponent,
} from "../types.js";

/** `requirements-dev.txt`, `requirements_test.txt` …: what the service does not run with. */
const DEVELOPMENT_REQUIREMENTS =
  /^requirements[-_.]?(dev|devel|development|test|tests|testing|lint|docs|ci)\b/i;

export const requirementsEcosystem: EcosystemReader = {
  name: "requirements",
  detect: (files) => files.filter((file) => /^requirements.*\.txt$/i.test(basename(file))),
  async read(file) {
    const development = DEVELOPMENT_REQUIREMENTS.test(basename(file));
    return readRequirements(await readFile(file, "utf8"), development);
  },
};

export const poetryEcosystem: EcosystemReader = {
  name: "poetry",
  detect: (files) => files.filter((file) => basename(file) === "poetry.lock"),
  async read(file) {
    const { parse: parseToml } = await import("smol-toml");
    const lockfile = parseToml(await readFile(file, "utf8")) as PoetryLockfile;
    const pyproject = await readFile(join(dirname(file), "pyproject.toml"), "utf8").then(
      (text) => parseToml(text) as PyProject,
      () => undefined,
    );
    return readPoetry(lockfile, pyproject);
  },
};

function pythonComponent(
  name: string,
  version: string,
  hashes: ComponentHash[],
  development: boolean,
): FoundComponent {
  const normalised = normalisePypiName(name);
  return {
    ecosystem: "pypi",
    name: normalised,
    version,
    purl: pypiPurl(normalised, version),
    localName: normalised,
    hashes,
    scope: development ? "optional" : "required",
    properties: [],
  };
}

function sha256Hashes(values: Iterable<string>): ComponentHash[] {
  const hashes = new Map<string, ComponentHash>();
  for (const value of values) {
    const [alg, hex = ""] = value.split(":");
    const hash = alg === "sha256" ? hexHash("SHA-256", hex) : undefined;
    if (hash !== undefined) hashes.set(hash.content, hash);
  }
  return [...hashes.values()];
}

export function readRequirements(text: string, development: boolean): EcosystemReading {
  const components: FoundComponent[] = [];
  const warnings: string[] = [];
  // A trailing backslash continues the requirement on the next line
  const logicalLines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  for (const rawLine of logicalLines) {
    const line = rawLine.replace(/(^|\s)#.*$/, "").trim();
    if (line === "" || line.startsWith("-")) continue;
    const hashes = sha256Hashes([...line.matchAll(/--hash[=\s]+(\S+)/g)].map((match) => match[1] ?? ""));
    const requirement = line.split(/\s--/)[0]?.split(";")[0]?.trim() ?? "";
    const pinned = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s,;*]+)$/.exec(requirement);
    if (pinned === null) {
      warnings.push(`${requirement} is not pinned with ==, skipped`);
      continue;
    }
    components.push(pythonComponent(pinned[1] ?? "", pinned[2] ?? "", hashes, development));
  }
  return {
    components,
    dependencies: [],
    directDependencies: components.map((component) => component.purl),
    warnings,
  };
}

interface PoetryPackage {
  name?: string;
  version?: string;
  category?: string;
  files?: Array<{ file?: string; hash?: string }>;
  dependencies?: Record<string, unknown>;
  source?: { type?: string };
}

interface PoetryLockfile {
  package?: PoetryPackage[];
  /** Poetry before 1.2 kept file hashes here, by package name */
  metadata?: { files?: Record<string, Array<{ file?: string; hash?: string }>> };
}

interface PoetryDependencies {
  dependencies?: Record<string, unknown>;
  "dev-dependencies"?: Record<string, unknown>;
  group?: Record<string, { dependencies?: Record<string, unknown> }>;
}

interface PyProject {
  tool?: { poetry?: PoetryDependencies };
  project?: { dependencies?: string[] };
}

function readPoetry(lockfile: PoetryLockfile, pyproject: PyProject | undefined): EcosystemReading {
  const warnings: string[] = [];
  const packages = lockfile.package ?? [];
  const purlByName = new Map<string, string>();
  const components: FoundComponent[] = [];
  const usesCategories = packages.some((entry) => entry.category !== undefined);
  for (const entry of packages) {
    if (entry.name === undefined || entry.version === undefined) continue;
    if (entry.source?.type === "directory" || entry.source?.type === "file") {
      warnings.push(`${entry.name} comes from a local ${entry.source.type}, left out`);
      continue;
    }
    const files = entry.files ?? lockfile.metadata?.files?.[entry.name] ?? [];
    const hashes = sha256Hashes(files.map((file) => file.hash ?? ""));
    const found = pythonComponent(entry.name, entry.version, hashes, entry.category === "dev");
    components.push(found);
    purlByName.set(found.name, found.purl);
  }

  const dependencies: DependencyEdge[] = [];
  const graph = new Map<string, string[]>();
  for (const entry of packages) {
    const from = entry.name === undefined ? undefined : purlByName.get(normalisePypiName(entry.name));
    if (from === undefined) continue;
    const to = Object.keys(entry.dependencies ?? {})
      .map((name) => purlByName.get(normalisePypiName(name)))
      .filter((purl) => purl !== undefined);
    graph.set(from, to);
    if (to.length > 0) dependencies.push({ from, to });
  }

  const poetry = pyproject?.tool?.poetry;
  const namesIn = (table: Record<string, unknown> | undefined) =>
    Object.keys(table ?? {})
      .filter((name) => name.toLowerCase() !== "python")
      .map((name) => purlByName.get(normalisePypiName(name)))
      .filter((purl) => purl !== undefined);
  const pep621Names = (pyproject?.project?.dependencies ?? []).map(
    (requirement) => /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(requirement)?.[0] ?? "",
  );
  const mainRoots = [
    ...namesIn(poetry?.dependencies),
    ...namesIn(Object.fromEntries(pep621Names.map((n) => [n, true]))),
  ];
  const groupRoots = [
    ...namesIn(poetry?.["dev-dependencies"]),
    ...Object.entries(poetry?.group ?? {}).flatMap(([group, table]) =>
      group === "main" ? [] : namesIn(table.dependencies),
    ),
  ];
  // Poetry 1.5 and later dropped `category`: dev-ness is what only the non-main groups reach
  if (!usesCategories && pyproject !== undefined) {
    const runtime = reachableFrom(mainRoots, graph);
    for (const component of components) if (!runtime.has(component.purl)) component.scope = "optional";
  }
  return {
    components,
    dependencies,
    directDependencies: [...new Set([...mainRoots, ...groupRoots])],
    warnings,
  };
}
