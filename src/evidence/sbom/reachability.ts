/** Everything reachable from `roots` along `edges` (roots included). */
export function reachableFrom(
  roots: Iterable<string>,
  edges: ReadonlyMap<string, Iterable<string>>,
): Set<string> {
  const seen = new Set<string>();
  const queue = [...roots];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    for (const target of edges.get(next) ?? []) if (!seen.has(target)) queue.push(target);
  }
  return seen;
}

export interface PackageManifestDependencies {
  /** dependencies and optionalDependencies: what the service runs with */
  runtime: Record<string, string>;
  development: Record<string, string>;
}

/** The package.json beside a lockfile, if there is a readable one. */
export function manifestDependencies(manifest: unknown): PackageManifestDependencies | undefined {
  if (typeof manifest !== "object" || manifest === null) return undefined;
  const field = (name: string): Record<string, string> => {
    const value = (manifest as Record<string, unknown>)[name];
    if (typeof value !== "object" || value === null) return {};
    return Object.fromEntries(
      Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
    );
  };
  return {
    runtime: { ...field("dependencies"), ...field("optionalDependencies") },
    development: field("devDependencies"),
  };
}
