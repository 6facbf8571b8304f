import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveResources, usesAuto } from "./resources.js";
import { serviceSpecSchema } from "./schema.js";

const specWith = (resources: Record<string, string>) =>
  serviceSpecSchema.parse({ metadata: { name: "cart" }, run: { command: "node server.js" }, resources });

const vectors: {
  name: string;
  resources: Record<string, string>;
  recommendation: { cpu: string; memory: string } | null;
  expected: { cpuMillicores: number; memoryMiB: number; source: { cpu: string; memory: string } };
}[] = [
  {
    name: "declared limits are kept whatever was recommended",
    resources: { cpu: "500m", memory: "256Mi" },
    recommendation: { cpu: "100m", memory: "64Mi" },
    expected: { cpuMillicores: 500, memoryMiB: 256, source: { cpu: "declared", memory: "declared" } },
  },
  {
    name: "auto takes the recommendation",
    resources: { cpu: "auto", memory: "auto" },
    recommendation: { cpu: "300m", memory: "192Mi" },
    expected: {
      cpuMillicores: 300,
      memoryMiB: 192,
      source: { cpu: "recommendation", memory: "recommendation" },
    },
  },
  {
    name: "auto without a recommendation is the default size, and says so",
    resources: { cpu: "auto", memory: "auto" },
    recommendation: null,
    expected: { cpuMillicores: 1000, memoryMiB: 512, source: { cpu: "default", memory: "default" } },
  },
  {
    name: "auto for one limit only",
    resources: { cpu: "2", memory: "auto" },
    recommendation: { cpu: "300m", memory: "100Mi" },
    expected: { cpuMillicores: 2000, memoryMiB: 100, source: { cpu: "declared", memory: "recommendation" } },
  },
];

for (const vector of vectors) {
  test(`resources: ${vector.name}`, () => {
    const resolved = resolveResources(specWith(vector.resources), vector.recommendation);
    assert.deepEqual(
      {
        cpuMillicores: resolved.cpuMillicores,
        memoryMiB: resolved.memoryBytes / 2 ** 20,
        source: resolved.source,
      },
      vector.expected,
    );
  });
}

test("a spec uses auto when either limit says so", () => {
  assert.equal(usesAuto(specWith({ cpu: "1", memory: "1Gi" })), false);
  assert.equal(usesAuto(specWith({ cpu: "auto" })), true);
  assert.equal(usesAuto(specWith({ memory: "auto" })), true);
});
