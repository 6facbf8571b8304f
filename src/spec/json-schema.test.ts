import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../testing/paths.js";
import { sloJsonSchema, waybillJsonSchema } from "./json-schema.js";
import { jsonSchemaFiles, jsonSchemaText } from "./write-json-schema.js";

describe("published JSON Schemas", () => {
  for (const [name, generate] of Object.entries(jsonSchemaFiles)) {
    it(`schema/${name} is what the zod schema generates (run npm run schema after changing it)`, () => {
      const committed = readFileSync(join(repoRoot, "schema", name), "utf8");
      assert.equal(committed, jsonSchemaText(generate()));
    });
  }

  it("describes waybill.yaml's input: only metadata and run are required, unknown fields are not allowed", () => {
    const schema = waybillJsonSchema();
    assert.equal(schema.$id, "https://waybill.dev/schema/waybill.schema.json");
    assert.equal(schema.title, "waybill.yaml");
    assert.deepEqual(schema.required, ["metadata", "run"]);
    assert.equal(schema.additionalProperties, false);
  });

  it("describes the Keptn SLO format with no required fields", () => {
    const schema = sloJsonSchema();
    assert.equal(schema.$id, "https://waybill.dev/schema/slo.schema.json");
    assert.equal(schema.required, undefined);
    assert.ok(
      typeof schema.properties === "object" &&
        schema.properties !== null &&
        "objectives" in schema.properties,
    );
  });

  it("uses only standard JSON Schema formats", () => {
    const formats = [...JSON.stringify(waybillJsonSchema()).matchAll(/"format":"([^"]+)"/g)].map(
      (match) => match[1],
    );
    for (const format of formats)
      assert.ok(["uri", "uri-reference", "email", "uuid"].includes(format ?? ""), format);
  });
});
