/**
 * The part of the OSV schema (https://ossf.github.io/osv-schema/) that matching reads. Records are
 * checked field by field rather than trusted, because databases and hand-written files do drift
 * from the schema; a record that cannot be read is reported by the loader, not thrown through.
 */

export interface OsvSeverity {
  type: string;
  score: string;
}

/** One event of a range timeline; the schema allows exactly one key per event. */
export type OsvEvent =
  { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

export interface OsvRange {
  type: string;
  repo?: string;
  events: OsvEvent[];
}

export interface OsvAffected {
  package?: { ecosystem: string; name: string; purl?: string };
  severity?: OsvSeverity[];
  ranges?: OsvRange[];
  versions?: string[];
  database_specific?: Record<string, unknown>;
}

export interface Osv {
  id: string;
  modified?: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  summary?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  database_specific?: Record<string, unknown>;
}

export type OsvParse = { ok: true; advisory: Osv } | { ok: false; error: string };

const eventKinds = ["introduced", "fixed", "last_affected", "limit"] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function optionalString(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === "string" ? value : undefined;
}

function readSeverities(value: unknown, where: string): OsvSeverity[] | string {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return `${where}.severity is not a list`;
  const severities: OsvSeverity[] = [];
  for (const entry of value) {
    if (!isRecord(entry) || typeof entry.type !== "string" || typeof entry.score !== "string") {
      return `${where}.severity entries need a string type and score`;
    }
    severities.push({ type: entry.type, score: entry.score });
  }
  return severities;
}

function readEvent(value: unknown, where: string): OsvEvent | string {
  if (!isRecord(value)) return `${where} is not an object`;
  const kinds = eventKinds.filter((kind) => kind in value);
  const kind = kinds[0];
  if (kinds.length !== 1 || kind === undefined) {
    return `${where} must have exactly one of ${eventKinds.join(", ")}`;
  }
  const version = value[kind];
  if (typeof version !== "string") return `${where}.${kind} is not a string`;
  switch (kind) {
    case "introduced":
      return { introduced: version };
    case "fixed":
      return { fixed: version };
    case "last_affected":
      return { last_affected: version };
    case "limit":
      return { limit: version };
  }
}

function readRange(value: unknown, where: string): OsvRange | string {
  if (!isRecord(value) || typeof value.type !== "string") return `${where} needs a string type`;
  if (!Array.isArray(value.events)) return `${where}.events is not a list`;
  const events: OsvEvent[] = [];
  for (const [index, entry] of value.events.entries()) {
    const event = readEvent(entry, `${where}.events[${index}]`);
    if (typeof event === "string") return event;
    events.push(event);
  }
  const repo = optionalString(value, "repo");
  return repo === undefined ? { type: value.type, events } : { type: value.type, repo, events };
}

function readAffected(value: unknown, where: string): OsvAffected | string {
  if (!isRecord(value)) return `${where} is not an object`;
  const affected: OsvAffected = {};
  if (value.package !== undefined) {
    const pkg = value.package;
    if (!isRecord(pkg) || typeof pkg.ecosystem !== "string" || typeof pkg.name !== "string") {
      return `${where}.package needs a string ecosystem and name`;
    }
    const purl = optionalString(pkg, "purl");
    affected.package = { ecosystem: pkg.ecosystem, name: pkg.name, ...(purl === undefined ? {} : { purl }) };
  }
  const severity = readSeverities(value.severity, where);
  if (typeof severity === "string") return severity;
  if (severity.length > 0) affected.severity = severity;
  if (value.ranges !== undefined) {
    if (!Array.isArray(value.ranges)) return `${where}.ranges is not a list`;
    affected.ranges = [];
    for (const [index, entry] of value.ranges.entries()) {
      const range = readRange(entry, `${where}.ranges[${index}]`);
      if (typeof range === "string") return range;
      affected.ranges.push(range);
    }
  }
  if (value.versions !== undefined) {
    if (!isStringArray(value.versions)) return `${where}.versions is not a list of strings`;
    affected.versions = value.versions;
  }
  if (isRecord(value.database_specific)) affected.database_specific = value.database_specific;
  return affected;
}

/** Reads one OSV record from parsed JSON. */
export function parseOsv(value: unknown): OsvParse {
  if (!isRecord(value)) return { ok: false, error: "not a JSON object" };
  if (typeof value.id !== "string" || value.id === "") return { ok: false, error: "no id" };
  const advisory: Osv = { id: value.id };
  for (const key of ["modified", "published", "withdrawn", "summary"] as const) {
    const text = optionalString(value, key);
    if (text !== undefined) advisory[key] = text;
  }
  if (value.aliases !== undefined && value.aliases !== null) {
    if (!isStringArray(value.aliases))
      return { ok: false, error: `${value.id}: aliases is not a list of strings` };
    advisory.aliases = value.aliases;
  }
  const severity = readSeverities(value.severity, value.id);
  if (typeof severity === "string") return { ok: false, error: severity };
  if (severity.length > 0) advisory.severity = severity;
  if (value.affected !== undefined && value.affected !== null) {
    if (!Array.isArray(value.affected)) return { ok: false, error: `${value.id}: affected is not a list` };
    advisory.affected = [];
    for (const [index, entry] of value.affected.entries()) {
      const affected = readAffected(entry, `${value.id}: affected[${index}]`);
      if (typeof affected === "string") return { ok: false, error: affected };
      advisory.affected.push(affected);
    }
  }
  if (isRecord(value.database_specific)) advisory.database_specific = value.database_specific;
  return { ok: true, advisory };
}

export function eventKind(event: OsvEvent): (typeof eventKinds)[number] {
  if ("introduced" in event) return "introduced";
  if ("fixed" in event) return "fixed";
  if ("last_affected" in event) return "last_affected";
  return "limit";
}

export function eventVersion(event: OsvEvent): string {
  if ("introduced" in event) return event.introduced;
  if ("fixed" in event) return event.fixed;
  if ("last_affected" in event) return event.last_affected;
  return event.limit;
}
