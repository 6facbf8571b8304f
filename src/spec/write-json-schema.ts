/**
 * Writes schema/waybill.schema.json and schema/slo.schema.json (`npm run schema`). A test
 * fails when the committed files differ from what the zod schema generates.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sloJsonSchema, waybillJsonSchema } from "./json-schema.js";

export const jsonSchemaFiles = {
  "waybill.schema.json": waybillJsonSchema,
  "slo.schema.json": sloJsonSchema,
} as const;

export function jsonSchemaText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

// Compiled to <repo>/<dist>/spec/, so the repository's schema/ folder is two levels up.
const schemaDir = fileURLToPath(new URL("../../schema/", import.meta.url));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(schemaDir, { recursive: true });
  for (const [name, generate] of Object.entries(jsonSchemaFiles)) {
    writeFileSync(`${schemaDir}${name}`, jsonSchemaText(generate()));
    console.log(`wrote schema/${name}`);
  }
}
