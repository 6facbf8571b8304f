import { test } from "node:test";
import assert from "node:assert/strict";
import { seededGaussian } from "./statistics.js";
import { securityCost, securitySlis } from "./security-cost.js";

function latencies(seed: number, count: number, median: number, spread: number): number[] {
  const gaussian = seededGaussian(seed);
  return Array.from({ length: count }, () => Math.max(0.05, median + spread * gaussian()));
}

const vectors: { name: string; added: number; spread: number }[] = [
  { name: "no cost", added: 0, spread: 0.1 },
  { name: "a quarter millisecond, as a sidecar-less mesh", added: 0.25, spread: 0.1 },
  { name: "two and a half milliseconds, as a sidecar mesh", added: 2.5, spread: 0.5 },
];

for (const vector of vectors) {
  test(`the added latency of TLS is estimated within its interval: ${vector.name}`, () => {
    const plain = latencies(1, 800, 1.2, vector.spread);
    const secured = latencies(2, 800, 1.2 + vector.added, vector.spread);
    const cost = securityCost(plain, secured);
    assert.ok(cost !== null);
    assert.ok(
      cost.addedP50.low <= vector.added + 0.05 && cost.addedP50.high >= vector.added - 0.05,
      JSON.stringify(cost.addedP50),
    );
    assert.ok(Math.abs(cost.addedP50.estimate - vector.added) < 0.1, JSON.stringify(cost.addedP50));
    assert.ok(cost.addedP99.low <= cost.addedP99.estimate && cost.addedP99.estimate <= cost.addedP99.high);
  });
}

test("a side straight to the app splits the rest into the app's own latency and the proxy's", () => {
  const direct = latencies(3, 800, 1, 0.1);
  const plain = latencies(4, 800, 1.4, 0.1);
  const secured = latencies(5, 800, 1.7, 0.1);
  const cost = securityCost(plain, secured, direct);
  assert.ok(cost?.breakdown !== null && cost?.breakdown !== undefined);
  assert.ok(Math.abs(cost.breakdown.app.p50 - 1) < 0.05, JSON.stringify(cost.breakdown.app));
  assert.ok(Math.abs(cost.breakdown.proxyAdded.p50.estimate - 0.4) < 0.05);
  assert.ok(Math.abs(cost.addedP50.estimate - 0.3) < 0.05);
  assert.equal(securityCost(plain, secured)?.breakdown, null, "no third side, no split");
});

test("the added p99 is never below the typical request's added latency, whatever the tails' noise", () => {
  const cost = {
    breakdown: null,
    addedP50: { estimate: 0.4, low: 0.35, high: 0.45 },
    addedP99: { estimate: -0.8, low: -3, high: 1.5 },
    securedP99: 8,
    samples: { plain: 200, secured: 200 },
  };
  assert.equal(securitySlis(cost, null).security_added_latency_p99, 0.4);
  assert.equal(securitySlis(cost, null).security_latency_share_pct, 5);
});

test("too few samples on either path say nothing", () => {
  assert.equal(securityCost([1, 2, 3], latencies(1, 100, 1, 0.1)), null);
});

test("the SLIs carry the estimates, the share of the secured p99, and CPU per thousand requests", () => {
  const cost = {
    breakdown: null,
    addedP50: { estimate: 0.3, low: 0.25, high: 0.35 },
    addedP99: { estimate: 1.5, low: 1, high: 2 },
    securedP99: 10,
    samples: { plain: 500, secured: 500 },
  };
  assert.deepEqual(securitySlis(cost, { seconds: 0.4, securedRequests: 2000 }), {
    security_added_latency_p50: 0.3,
    security_added_latency_p99: 1.5,
    security_latency_share_pct: 15,
    security_cpu_per_1k_rps: 0.2,
  });
  assert.equal(securitySlis(cost, null).security_cpu_per_1k_rps, undefined);
});
