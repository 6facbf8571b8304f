/**
 * Package URLs per the purl spec's type rules. packageurl-js does the percent-encoding;
 * the name rules it leaves to the caller (PEP 503 for PyPI, lowercase for golang) are here.
 */
import { PackageURL } from "packageurl-js";
import type { Ecosystem } from "./types.js";

/** `@scope/name` → namespace `@scope` and name `name`; the spec lowercases both for npm. */
export function npmPurl(fullName: string, version: string): string {
  const { group, localName } = splitNpmName(fullName);
  return new PackageURL("npm", group, localName, version, undefined, undefined).toString();
}

export function splitNpmName(fullName: string): { group?: string; localName: string } {
  if (fullName.startsWith("@")) {
    const slash = fullName.indexOf("/");
    if (slash > 0) return { group: fullName.slice(0, slash), localName: fullName.slice(slash + 1) };
  }
  return { localName: fullName };
}

/** PEP 503: runs of `-`, `_` and `.` become one `-`, lowercased. */
export function normalisePypiName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

export function pypiPurl(name: string, version: string): string {
  return new PackageURL("pypi", undefined, normalisePypiName(name), version, undefined, undefined).toString();
}

/**
 * The golang type says namespace and name "must be lowercased", although module paths are
 * case-sensitive; the component's `name` keeps the module path as written so nothing is lost.
 */
export function golangPurl(modulePath: string, version: string): string {
  const lowered = modulePath.toLowerCase();
  const slash = lowered.lastIndexOf("/");
  const namespace = slash > 0 ? lowered.slice(0, slash) : undefined;
  const name = slash > 0 ? lowered.slice(slash + 1) : lowered;
  return new PackageURL("golang", namespace, name, version, undefined, undefined).toString();
}

export function mavenPurl(groupId: string, artifactId: string, version: string): string {
  return new PackageURL("maven", groupId, artifactId, version, undefined, undefined).toString();
}

/** For callers (inventory, recall) that hold a name and version and need the same purl as the SBOM. */
export function purlFor(ecosystem: Ecosystem, name: string, version: string): string {
  switch (ecosystem) {
    case "npm":
      return npmPurl(name, version);
    case "pypi":
      return pypiPurl(name, version);
    case "golang":
      return golangPurl(name, version);
    case "maven": {
      const [groupId = "", artifactId = ""] = name.split(":");
      return mavenPurl(groupId, artifactId, version);
    }
  }
}
