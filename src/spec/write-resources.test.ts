import { test } from "node:test";
import assert from "node:assert/strict";
import { writeResources } from "./write-resources.js";
import { parseServiceSpec } from "./load.js";

const vectors: { name: string; before: string; size: { cpu: string; memory: string }; after: string }[] = [
  {
    name: "replaces both limits and keeps the comments around them",
    before: [
      "# the cart service",
      "metadata:",
      "  name: cart # keep me",
      "resources:",
      "  # sized by hand in 2025",
      "  cpu: 1",
      "  memory: 512Mi # was 1Gi",
      "stages:",
      "  - name: dev",
      "",
    ].join("\n"),
    size: { cpu: "250m", memory: "192Mi" },
    after: [
      "# the cart service",
      "metadata:",
      "  name: cart # keep me",
      "resources:",
      "  # sized by hand in 2025",
      "  cpu: 250m",
      "  memory: 192Mi # was 1Gi",
      "stages:",
      "  - name: dev",
      "",
    ].join("\n"),
  },
  {
    name: "adds resources where there were none",
    before: "metadata:\n  name: cart\n",
    size: { cpu: "2", memory: "1Gi" },
    after: "metadata:\n  name: cart\nresources:\n  cpu: 2\n  memory: 1Gi\n",
  },
  {
    name: "replaces auto with the recommendation",
    before: "metadata:\n  name: cart\nresources: { cpu: auto, memory: auto }\n",
    size: { cpu: "300m", memory: "128Mi" },
    after: "metadata:\n  name: cart\nresources: { cpu: 300m, memory: 128Mi }\n",
  },
];

for (const vector of vectors) {
  test(`--write ${vector.name}`, () => {
    const written = writeResources(vector.before, vector.size);
    assert.equal(written, vector.after);
  });
}

test("what --write leaves is still a valid waybill.yaml with the new size", () => {
  const written = writeResources("metadata:\n  name: cart\nrun:\n  command: node server.js\n", {
    cpu: "1",
    memory: "300Mi",
  });
  const spec = parseServiceSpec(written, "waybill.yaml");
  assert.equal(String(spec.resources.cpu), "1");
  assert.equal(spec.resources.memory, "300Mi");
});

test("--write refuses a resources entry that is not a mapping", () => {
  assert.throws(() => writeResources("resources: big\n", { cpu: "1", memory: "1Gi" }), /not a mapping/);
});
