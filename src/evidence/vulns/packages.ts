/**
 * Components as the matcher sees them, and how a package URL (https://github.com/package-url/purl-spec)
 * becomes an OSV (ecosystem, name, version).
 */
import { baseEcosystem } from "./versions/index.js";

export interface PackageVersion {
  /** OSV ecosystem name: "npm", "PyPI", "Go" or "Maven" */
  ecosystem: string;
  name: string;
  version: string;
  purl?: string;
}

const ecosystemByPurlType: Record<string, string> = {
  npm: "npm",
  pypi: "PyPI",
  golang: "Go",
  maven: "Maven",
};

export type PurlParse = { ok: true; pkg: PackageVersion } | { ok: false; error: string };

/**
 * Reads pkg:type/namespace/name@version. Qualifiers and subpath do not identify the release for
 * matching, so they are dropped; segments are percent-decoded (pkg:npm/%40scope/x is "@scope/x").
 */
export function packageFromPurl(purl: string): PurlParse {
  const match = /^pkg:([a-zA-Z.+-]+)\/([^?#]+?)(?:@([^?#@]+))?(?:\?[^#]*)?(?:#.*)?$/.exec(purl.trim());
  if (match === null) return { ok: false, error: `not a package URL: ${purl}` };
  const [, type = "", path = "", encodedVersion] = match;
  const ecosystem = ecosystemByPurlType[type.toLowerCase()];
  if (ecosystem === undefined) return { ok: false, error: `unsupported package type "${type}" in ${purl}` };
  if (encodedVersion === undefined) return { ok: false, error: `no version in ${purl}` };
  let segments: string[];
  let version: string;
  try {
    segments = path
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => decodeURIComponent(segment));
    version = decodeURIComponent(encodedVersion);
  } catch {
    return { ok: false, error: `bad percent-encoding in ${purl}` };
  }
  if (segments.length === 0) return { ok: false, error: `no name in ${purl}` };
  // Maven coordinates are group:artifact in OSV; the other ecosystems join namespace and name with "/"
  const name = ecosystem === "Maven" ? segments.join(":") : segments.join("/");
  return { ok: true, pkg: { ecosystem, name, version, purl } };
}

/**
 * The name under which an ecosystem treats two spellings as one package: PyPI names are
 * case-insensitive with runs of "-", "_", "." equivalent (PEP 503); npm, Go and Maven names are
 * compared as written.
 */
export function normalisePackageName(ecosystem: string, name: string): string {
  return baseEcosystem(ecosystem) === "pypi" ? name.toLowerCase().replace(/[-_.]+/g, "-") : name;
}

/** A key for indexing advisories by package. */
export function packageKey(ecosystem: string, name: string): string {
  return `${baseEcosystem(ecosystem)}\u0000${normalisePackageName(ecosystem, name)}`;
}
