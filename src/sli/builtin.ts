/**
 * The built-in SLIs (docs/design.md, "Built-in SLIs"): values the test task already measured, the
 * load generator's (`latency_p95`, `error_rate`, `throughput:GET /`…) together with the
 * instance's `cpu_seconds`, `memory_max_mib` and `cpu_throttled_pct`. Behind the provider
 * interface like every other source, so the gate sees them all the same way.
 */
import type { SliProvider } from "./provider.js";

/** Knows exactly the names in `values`; a value that was not measured is best left out. */
export function builtinProvider(values: Readonly<Record<string, number>>): SliProvider {
  const measured = new Map(Object.entries(values));
  return {
    name: "builtin",
    fetch: (names) =>
      Promise.resolve(
        Object.fromEntries(
          names.flatMap((name) => {
            const value = measured.get(name);
            return value === undefined ? [] : [[name, value]];
          }),
        ),
      ),
  };
}
