import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { build } from "hdr-histogram-js";
import { Tally } from "./tally.js";

/** What HdrHistogram itself reports for the values, recorded one by one */
function reference(micros: readonly number[]) {
  const histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
  for (const value of micros) histogram.recordValue(value);
  const at = (percentile: number) => histogram.getValueAtPercentile(percentile) / 1000;
  return { p50: at(50), p90: at(90), p95: at(95), p99: at(99), max: Math.max(...micros) / 1000 };
}

/** Edges of HdrHistogram's buckets, where an off-by-one in the slot arithmetic would show */
const edges = [
  0,
  1,
  1023,
  1024,
  2047,
  2048,
  2049,
  4095,
  4096,
  4097,
  1_048_575,
  1_048_576,
  2 ** 31 - 1,
  2 ** 31,
];

describe("latency tally", () => {
  const cases: Array<{ name: string; micros: number[] }> = [
    { name: "bucket edges", micros: edges },
    {
      name: "each edge many times over, and its neighbours",
      micros: edges.flatMap((edge) => [edge, edge, edge + 1, edge + 3]),
    },
    {
      name: "values past 2^32 µs, which bypass the fast slots",
      micros: [5, 2 ** 32 - 1, 2 ** 32, 2 ** 33 + 12_345, 7_200_000_000],
    },
    {
      name: "a spread from microseconds to a minute",
      micros: Array.from({ length: 5000 }, (_, index) => Math.floor((index * 7919) ** 1.7 % 60_000_000)),
    },
  ];
  for (const { name, micros } of cases) {
    it(`reports what HdrHistogram reports for ${name}`, () => {
      const tally = new Tally();
      for (const value of micros) tally.recordAnswer(value / 1000, false);
      assert.deepEqual(tally.summary(1).latency, reference(micros));
    });
  }

  it("adds tallies that were read in between as if every value went to one", () => {
    const [first, second, whole] = [new Tally(), new Tally(), new Tally()];
    edges.forEach((value, index) => {
      (index % 2 === 0 ? first : second).recordAnswer(value / 1000, false);
      whole.recordAnswer(value / 1000, false);
      // Reading drains the pending counts; later values must still arrive.
      if (index === 5) first.toData();
    });
    const merged = Tally.fromData([first.toData(), second.toData()]);
    assert.deepEqual(merged.summary(1), whole.summary(1));
    assert.deepEqual(Tally.combined([first, second]).summary(1), whole.summary(1));
  });
});
