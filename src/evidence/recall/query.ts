/**
 * Recall queries (pure): a package URL whose version part is a range, as in
 * `pkg:npm/lodash@<4.17.21`, `pkg:pypi/django@>=4.0,<4.2.8`, `pkg:npm/lodash@4.17.20`, or no
 * version at all (every version); or an advisory id (`GHSA-…`, `CVE-…`, `GO-…`, `PYSEC-…`).
 * Versions compare in the package's own ecosystem order (npm semver, PEP 440, Maven, Go).
 */
import { UserError } from "../../errors.js";
import { compareVersionTexts } from "../vulns/versions/scheme.js";
import { versionSchemeFor } from "../vulns/versions/index.js";
import { normalisePackageName, packageFromPurl } from "../vulns/packages.js";

export type Operator = "<" | "<=" | "=" | ">=" | ">" | "!=";
export interface VersionConstraint {
  operator: Operator;
  version: string;
}

export type RecallQuery =
  | { kind: "package"; ecosystem: string; name: string; constraints: VersionConstraint[]; text: string }
  | { kind: "advisory"; id: string };

const ADVISORY_ID = /^[A-Z][A-Z0-9]*-[A-Za-z0-9-]+$/;

export function parseRecallQuery(text: string): RecallQuery {
  const query = text.trim();
  if (ADVISORY_ID.test(query) && !query.startsWith("pkg:")) return { kind: "advisory", id: query };
  if (!query.startsWith("pkg:")) {
    throw new UserError(
      `"${text}" is neither a package URL (pkg:npm/lodash@<4.17.21) nor an advisory id (GHSA-…, CVE-…)`,
    );
  }
  const at = query.lastIndexOf("@");
  const slash = query.indexOf("/");
  const hasVersion = at > slash && !query.slice(at + 1).startsWith("/");
  const base = hasVersion ? query.slice(0, at) : query;
  const range = hasVersion ? decodeURIComponent(query.slice(at + 1)) : "";
  const parsed = packageFromPurl(`${base}@0`);
  if (!parsed.ok) throw new UserError(`cannot read "${text}": ${parsed.error}`);
  const { ecosystem, name } = parsed.pkg;
  return {
    kind: "package",
    ecosystem,
    name: normalisePackageName(ecosystem, name),
    constraints: range === "" || range === "*" ? [] : parseRange(ecosystem, range, text),
    text: query,
  };
}

/** Every bound must be a version the ecosystem can order, or the query could match nothing silently. */
function parseRange(ecosystem: string, range: string, text: string): VersionConstraint[] {
  const scheme = versionSchemeFor(ecosystem);
  return range
    .split(/[,|]/)
    .map((part) => part.trim())
    .map((part) => {
      const match = /^(<=|>=|!=|<|>|=)?\s*(\S+)$/.exec(part);
      if (match === null || match[2] === undefined) {
        throw new UserError(
          `cannot read the version range "${range}" in "${text}": write bounds such as <4.17.21 or >=4.0,<4.2.8`,
        );
      }
      const constraint = {
        operator: (match[1] ?? "=") as Operator,
        version: completeSemver(ecosystem, match[2]),
      };
      if (scheme === undefined || !compareVersionTexts(scheme, constraint.version, constraint.version).ok) {
        throw new UserError(`"${text}": "${constraint.version}" is not a ${ecosystem} version`);
      }
      return constraint;
    });
}

/** In an npm range, as npm reads one, `<2` means `<2.0.0` and `>=1.4` means `>=1.4.0`. */
function completeSemver(ecosystem: string, version: string): string {
  if (ecosystem !== "npm" || !/^\d+(\.\d+)?$/.test(version)) return version;
  return version.split(".").length === 1 ? `${version}.0.0` : `${version}.0`;
}

/** True when `version` meets every constraint; a version the ecosystem cannot read never matches. */
export function versionMatches(
  ecosystem: string,
  version: string,
  constraints: VersionConstraint[],
): boolean {
  const scheme = versionSchemeFor(ecosystem);
  if (scheme === undefined)
    return constraints.every((c) => (c.operator === "=" ? c.version === version : false));
  return constraints.every((constraint) => {
    const compared = compareVersionTexts(scheme, version, constraint.version);
    if (!compared.ok) return false;
    const order = compared.version;
    switch (constraint.operator) {
      case "<":
        return order < 0;
      case "<=":
        return order <= 0;
      case "=":
        return order === 0;
      case "!=":
        return order !== 0;
      case ">=":
        return order >= 0;
      case ">":
        return order > 0;
    }
  });
}
