import assert from "node:assert/strict";
import { compareVersionTexts, type VersionScheme } from "./scheme.js";

/** Asserts a table of [a, "<" | "=" | ">", b] rows, and that each row also holds mirrored. */
export function assertOrder<V>(scheme: VersionScheme<V>, rows: [string, "<" | "=" | ">", string][]): void {
  const expected = { "<": -1, "=": 0, ">": 1 } as const;
  for (const [a, relation, b] of rows) {
    const forward = compareVersionTexts(scheme, a, b);
    assert.deepEqual(forward, { ok: true, version: expected[relation] }, `${a} ${relation} ${b}`);
    const backward = compareVersionTexts(scheme, b, a);
    assert.deepEqual(backward, { ok: true, version: -expected[relation] || 0 }, `${b} mirrored ${a}`);
  }
}

/** Asserts that the versions, listed in ascending order, sort that way. */
export function assertAscending<V>(scheme: VersionScheme<V>, versions: string[]): void {
  for (let index = 1; index < versions.length; index++) {
    assertOrder(scheme, [[versions[index - 1] as string, "<", versions[index] as string]]);
  }
}
