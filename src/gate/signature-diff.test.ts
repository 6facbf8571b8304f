import assert from "node:assert/strict";
import { test } from "node:test";
import { diffSignatures } from "./signature-diff.js";

const steady = Array.from({ length: 200 }, (_, i) => 50 + (i % 10) / 10);
const slower = steady.map((v) => v * 1.3);

const cases: {
  name: string;
  a: Record<string, number | null>;
  b: Record<string, number | null>;
  order: string[];
  first: { absolute: number | null; relativePct: number | null };
}[] = [
  {
    name: "ranks the SLI that moved most first, with its absolute and relative change",
    a: { latency_p95: 50, error_rate: 1, throughput: 100 },
    b: { latency_p95: 65, error_rate: 1, throughput: 98 },
    order: ["latency_p95", "throughput", "error_rate"],
    first: { absolute: 15, relativePct: 30 },
  },
  {
    name: "an SLI that appeared or vanished ranks above any number",
    a: { latency_p95: 50, "latency_p95:GET /new": null },
    b: { latency_p95: 100, "latency_p95:GET /new": 12 },
    order: ["latency_p95:GET /new", "latency_p95"],
    first: { absolute: null, relativePct: null },
  },
  {
    name: "a change from zero has an absolute but no relative change",
    a: { error_rate: 0, throughput: 10 },
    b: { error_rate: 2, throughput: 11 },
    order: ["error_rate", "throughput"],
    first: { absolute: 2, relativePct: null },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const diff = diffSignatures(
      { label: "A", values: c.a, latencySamplesMs: [] },
      { label: "B", values: c.b, latencySamplesMs: [] },
    );
    assert.deepEqual(
      diff.changes.map((change) => change.sli),
      c.order,
    );
    assert.equal(diff.changes[0]?.absolute, c.first.absolute);
    assert.equal(diff.changes[0]?.relativePct, c.first.relativePct);
  });
}

test("the judge calls a 30% latency shift significant and an unchanged one not", () => {
  const shifted = diffSignatures(
    { label: "A", values: { latency_p95: 50.9 }, latencySamplesMs: steady },
    { label: "B", values: { latency_p95: 66.2 }, latencySamplesMs: slower },
  );
  assert.equal(shifted.changes[0]?.significant, true);
  assert.equal(shifted.changes[0]?.classification, "High");
  const same = diffSignatures(
    { label: "A", values: { latency_p95: 50.9 }, latencySamplesMs: steady },
    { label: "B", values: { latency_p95: 50.9 }, latencySamplesMs: [...steady].reverse() },
  );
  assert.equal(same.changes[0]?.significant, false);
});

test("a slower tail is significant at p99 and not at an unchanged median", () => {
  const baseline = Array.from({ length: 1000 }, (_, i) => 20 + (i % 50) / 10);
  const slowTail = baseline.map((v, i) => (i % 50 >= 48 ? v * 4 : v));
  const diff = diffSignatures(
    { label: "A", values: { latency_p50: 22.5, latency_p99: 24.9 }, latencySamplesMs: baseline },
    { label: "B", values: { latency_p50: 22.5, latency_p99: 99.6 }, latencySamplesMs: slowTail },
  );
  const verdictOf = (sli: string) => diff.changes.find((change) => change.sli === sli);
  assert.equal(verdictOf("latency_p99")?.significant, true);
  assert.equal(verdictOf("latency_p99")?.classification, "High");
  assert.equal(verdictOf("latency_p50")?.significant, false);
});

test("the maximum, a single request, is never called significant", () => {
  const diff = diffSignatures(
    { label: "A", values: { latency_max: 50 }, latencySamplesMs: steady },
    { label: "B", values: { latency_max: 500 }, latencySamplesMs: slower },
  );
  assert.equal(diff.changes[0]?.significant, null);
});

test("without samples the significance is unknown, not false", () => {
  const diff = diffSignatures(
    { label: "A", values: { latency_p95: 1 }, latencySamplesMs: [] },
    { label: "B", values: { latency_p95: 2 }, latencySamplesMs: [] },
  );
  assert.equal(diff.changes[0]?.significant, null);
});
