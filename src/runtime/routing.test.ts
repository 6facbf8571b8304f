import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseRoute, routesProblem } from "./routing.js";
import type { Routes } from "./types.js";

const both = (candidateWeight: number): Routes => ({ stable: "blue", candidate: "green", candidateWeight });

test("chooseRoute picks the instance by pin header, then by weight", () => {
  const cases: Array<{ name: string; routes: Routes; pin?: string; draw: number; want: string | null }> = [
    {
      name: "no routes at all",
      routes: { stable: null, candidate: null, candidateWeight: 0 },
      draw: 0,
      want: null,
    },
    {
      name: "stable only",
      routes: { stable: "blue", candidate: null, candidateWeight: 0 },
      draw: 0.3,
      want: "blue",
    },
    {
      name: "stable only ignores a weight",
      routes: { stable: "blue", candidate: null, candidateWeight: 100 },
      draw: 0,
      want: "blue",
    },
    { name: "weight 0 keeps all traffic on stable", routes: both(0), draw: 0, want: "blue" },
    { name: "weight 100 sends all traffic to candidate", routes: both(100), draw: 0.9999, want: "green" },
    { name: "draw below the weight goes to candidate", routes: both(25), draw: 0.2499, want: "green" },
    { name: "draw at the weight goes to stable", routes: both(25), draw: 0.25, want: "blue" },
    { name: "weights above 100 are clamped", routes: both(250), draw: 0.99, want: "green" },
    { name: "negative weights are clamped", routes: both(-5), draw: 0, want: "blue" },
    { name: "pin to candidate", routes: both(0), pin: "candidate", draw: 0.99, want: "green" },
    {
      name: "pin is case and space insensitive",
      routes: both(0),
      pin: " Candidate ",
      draw: 0.99,
      want: "green",
    },
    { name: "pin to stable", routes: both(100), pin: "stable", draw: 0, want: "blue" },
    {
      name: "pin to a missing candidate serves nothing",
      routes: { stable: "blue", candidate: null, candidateWeight: 0 },
      pin: "candidate",
      draw: 0,
      want: null,
    },
    { name: "unknown pin values are ignored", routes: both(0), pin: "canary", draw: 0, want: "blue" },
    {
      name: "candidate without stable serves only with a weight",
      routes: { stable: null, candidate: "green", candidateWeight: 0 },
      draw: 0,
      want: null,
    },
    {
      name: "candidate without stable and a weight takes everything",
      routes: { stable: null, candidate: "green", candidateWeight: 10 },
      draw: 0.9,
      want: "green",
    },
  ];
  for (const { name, routes, pin, draw, want } of cases) {
    assert.equal(chooseRoute(routes, pin, draw)?.instanceId ?? null, want, name);
  }
});

test("chooseRoute reports which side it chose", () => {
  assert.deepEqual(chooseRoute(both(50), undefined, 0.1), { instanceId: "green", side: "candidate" });
  assert.deepEqual(chooseRoute(both(50), undefined, 0.9), { instanceId: "blue", side: "stable" });
});

test("routesProblem rejects weights outside 0-100 and identical sides", () => {
  assert.equal(routesProblem(both(0)), null);
  assert.equal(routesProblem(both(100)), null);
  assert.match(routesProblem(both(101)) ?? "", /between 0 and 100/);
  assert.match(routesProblem(both(Number.NaN)) ?? "", /between 0 and 100/);
  assert.match(routesProblem({ stable: "a", candidate: "a", candidateWeight: 0 }) ?? "", /same instance/);
  assert.equal(routesProblem({ stable: null, candidate: null, candidateWeight: 0 }), null);
});
