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
    constraints: range === "" || range === "*" ? [] : parseRange(range, text),
    text: query,
  };
}

function parseRange(range: string, text: string): VersionConstraint[] {
  return range
    .split(/[,|]/)
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => {
      const match = /^(<=|>=|!=|<|>|=)?\s*(.+)$/.exec(part);
      if (match === null || match[2] === undefined)
        throw new UserError(`cannot read the version range in "${text}"`);
      return { operator: (match[1] ?? "=") as Operator, version: match[2] };
    });
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
