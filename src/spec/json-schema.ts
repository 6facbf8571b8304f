/**
 * The published JSON Schemas for waybill.yaml and Keptn slo.yaml, generated from the zod
 * schema so that editors complete exactly what `waybill validate` accepts.
 */
import { z } from "zod";
import { serviceSpecSchema, sloSchema } from "./schema.js";

type JsonSchema = Record<string, unknown>;

const schemaBaseUrl = "https://waybill.dev/schema";

export function waybillJsonSchema(): JsonSchema {
  return withHeader(serviceSpecSchema, {
    $id: `${schemaBaseUrl}/waybill.schema.json`,
    title: "waybill.yaml",
    description:
      "One service's delivery: how to build and run it, its resources, load test, SLOs and stages. Every field has a default except metadata.name and run.",
  });
}

export function sloJsonSchema(): JsonSchema {
  return withHeader(sloSchema, {
    $id: `${schemaBaseUrl}/slo.schema.json`,
    title: "Keptn slo.yaml",
    description:
      "Service-level objectives in Keptn's slo.yaml format (spec_version 1.0), as Waybill's quality gate reads them.",
  });
}

function withHeader(
  schema: z.ZodType,
  header: { $id: string; title: string; description: string },
): JsonSchema {
  const { $schema, ...body } = z.toJSONSchema(schema, { io: "input", override: dropNonStandardFormat });
  return { $schema, ...header, ...body };
}

/** zod marks startsWith() as format "starts_with", which is not a JSON Schema format; the pattern it also emits says the same. */
function dropNonStandardFormat(context: { jsonSchema: { format?: string } }): void {
  if (context.jsonSchema.format === "starts_with") delete context.jsonSchema.format;
}
