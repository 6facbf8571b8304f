/**
 * Package URLs per the purl spec's type rules. packageurl-js does the percent-encoding (npm names
 * that need none are written directly); the name rules it leaves to the caller (PEP 503 for PyPI,
 * lowercase for golang) are here.
 */
import { createRequire } from "node:module";
import type * as PackageUrlModule from "packageurl-js";
import type { Ecosystem } from "./types.js";

let packageUrlClass: typeof PackageUrlModule.PackageURL | undefined;

/**
 * packageurl-js, required on first use: it builds an Intl collator as it loads, some 8 ms of
 * every `waybill sbom` start, which a lockfile of plain npm names never needs.
 */
function packageUrl(...parts: ConstructorParameters<typeof PackageUrlModule.PackageURL>) {
  packageUrlClass ??= (createRequire(import.meta.url)("packageurl-js") as typeof PackageUrlModule).PackageURL;
  return new packageUrlClass(...parts);
}

/** Characters percent-encoding leaves alone, lowercase: such a name is its own purl form. */
const PLAIN_NPM_NAME = /^[a-z0-9._~-]+$/;
/** The same for a version, where the purl spec also keeps `+` */
const PLAIN_VERSION = /^[A-Za-z0-9._~+-]+$/;

/**
 * `@scope/name` → namespace `@scope` and name `name`; the spec lowercases both for npm. Nearly
 * every npm name and version needs neither lowercasing nor escaping, and a lockfile holds
 * thousands: those are written directly, the same text packageurl-js gives (the tests compare
 * both), and the rest go through packageurl-js.
 */
export function npmPurl(fullName: string, version: string): string {
  const { group, localName } = splitNpmName(fullName);
  const scope = group?.slice(1);
  if (
    PLAIN_NPM_NAME.test(localName) &&
    PLAIN_VERSION.test(version) &&
    (scope === undefined || PLAIN_NPM_NAME.test(scope))
  ) {
    return `pkg:npm/${scope === undefined ? "" : `%40${scope}/`}${localName}@${version}`;
  }
  return packageUrl("npm", group, localName, version, undefined, undefined).toString();
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
  return packageUrl("pypi", undefined, normalisePypiName(name), version, undefined, undefined).toString();
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
  return packageUrl("golang", namespace, name, version, undefined, undefined).toString();
}

export function mavenPurl(groupId: string, artifactId: string, version: string): string {
  return packageUrl("maven", groupId, artifactId, version, undefined, undefined).toString();
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
