/**
 * CloudEvents 1.0 over HTTP, read by the spec's HTTP protocol binding (structured and binary
 * content modes). Parsed here, not by the `cloudevents` package: its reader fills in an `id`
 * and a `time` that the sender left out (a random id would make every resend a new event, and
 * defeat the (source, id) duplicate check), it accepts spec 0.3 as well, and it does not
 * percent-decode binary-mode header values as the binding asks. The tests use the package as an
 * independent sender of both modes.
 */
import { z } from "zod";
import { UserError } from "../errors.js";

export const STRUCTURED_CONTENT_TYPE = "application/cloudevents+json";
const BATCH_CONTENT_TYPE = "application/cloudevents-batch+json";

/** Attribute and extension values, as the type system of CloudEvents 1.0 has them in JSON */
type AttributeValue = string | number | boolean;

export interface ReceivedCloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  /** Extension attributes (lower-case names) */
  extensions: Record<string, AttributeValue>;
  /** The data, when it is JSON or text */
  data?: unknown;
  /** The data, base64, when it is neither */
  data_base64?: string;
  mode: "structured" | "binary";
}

const CONTEXT_ATTRIBUTES = new Set([
  "specversion",
  "id",
  "source",
  "type",
  "subject",
  "time",
  "datacontenttype",
  "dataschema",
  "data",
  "data_base64",
]);

const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
// RFC 3339, as CloudEvents' `time` requires
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const nonEmpty = (what: string) =>
  z.string({ error: `${what} is required` }).min(1, { error: `${what} is empty` });

const attributesSchema = z.object({
  specversion: z.literal("1.0", { error: 'specversion must be "1.0" (CloudEvents 1.0)' }),
  id: nonEmpty("id").max(256, { error: "id is longer than 256 characters" }),
  source: nonEmpty("source").max(1024, { error: "source is longer than 1024 characters" }),
  type: nonEmpty("type").max(256, { error: "type is longer than 256 characters" }),
  subject: z.string().min(1).max(1024).optional(),
  time: z.string().regex(RFC3339, { error: "time must be an RFC 3339 timestamp" }).optional(),
  datacontenttype: z.string().min(1).max(256).optional(),
  dataschema: z.string().min(1).max(1024).optional(),
});

export interface HttpMessage {
  headers: Record<string, string | string[] | undefined>;
  /** The body as received: bytes, since binary mode's data may be anything */
  body: Buffer;
}

/** Reads one CloudEvent from an HTTP request in structured or binary mode; anything else is a UserError. */
export function parseCloudEvent(message: HttpMessage): ReceivedCloudEvent {
  const contentType = header(message.headers, "content-type");
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  if (mediaType === BATCH_CONTENT_TYPE) {
    throw new UserError(
      `batched CloudEvents (${BATCH_CONTENT_TYPE}) are not taken: send one event per request`,
    );
  }
  if (mediaType === STRUCTURED_CONTENT_TYPE) return parseStructured(message.body);
  if (header(message.headers, "ce-specversion") !== undefined) return parseBinary(message, contentType);
  throw new UserError(
    "the request is not a CloudEvent: send it in structured mode (Content-Type: application/cloudevents+json, " +
      "the event as JSON) or in binary mode (ce-specversion, ce-id, ce-source and ce-type headers, the data as the body)",
  );
}

function parseStructured(body: Buffer): ReceivedCloudEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new UserError(`the structured CloudEvent is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UserError("a structured CloudEvent is one JSON object");
  }
  const record = parsed as Record<string, unknown>;
  const attributes = checkAttributes(record);
  if ("data" in record && "data_base64" in record) {
    throw new UserError("a CloudEvent has data or data_base64, not both");
  }
  if ("data_base64" in record && typeof record.data_base64 !== "string") {
    throw new UserError("data_base64 must be base64 text");
  }
  const extensions: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(record)) {
    if (CONTEXT_ATTRIBUTES.has(name)) continue;
    extensions[checkExtensionName(name)] = checkExtensionValue(name, value);
  }
  return {
    ...attributes,
    extensions,
    ...("data" in record ? { data: record.data } : {}),
    ...(typeof record.data_base64 === "string" ? { data_base64: record.data_base64 } : {}),
    mode: "structured",
  };
}

function parseBinary(message: HttpMessage, contentType: string | undefined): ReceivedCloudEvent {
  const attributes: Record<string, string> = {};
  const extensions: Record<string, AttributeValue> = {};
  for (const [rawName, rawValue] of Object.entries(message.headers)) {
    const name = rawName.toLowerCase();
    if (!name.startsWith("ce-") || rawValue === undefined) continue;
    const attribute = name.slice("ce-".length);
    const value = percentDecoded(attribute, Array.isArray(rawValue) ? rawValue.join(",") : rawValue);
    if (attribute === "data" || attribute === "data_base64" || attribute === "datacontenttype") {
      throw new UserError(
        `ce-${attribute} is not a binary-mode header: the data is the body, its type Content-Type`,
      );
    }
    if (CONTEXT_ATTRIBUTES.has(attribute)) attributes[attribute] = value;
    else extensions[checkExtensionName(attribute)] = value;
  }
  const checked = checkAttributes({
    ...attributes,
    ...(contentType === undefined ? {} : { datacontenttype: contentType }),
  });
  return { ...checked, extensions, ...binaryData(message.body, contentType), mode: "binary" };
}

/** JSON data is parsed, text is kept as text, anything else as base64 */
function binaryData(body: Buffer, contentType: string | undefined): { data?: unknown; data_base64?: string } {
  if (body.length === 0) return {};
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase() ?? "application/json";
  if (mediaType === "application/json" || mediaType.endsWith("+json")) {
    try {
      return { data: JSON.parse(body.toString("utf8")) as unknown };
    } catch (error) {
      throw new UserError(
        `the event's data is declared ${mediaType} but is not valid JSON: ${(error as Error).message}`,
      );
    }
  }
  if (mediaType.startsWith("text/")) return { data: body.toString("utf8") };
  return { data_base64: body.toString("base64") };
}

function checkAttributes(record: Record<string, unknown>): z.output<typeof attributesSchema> {
  const result = attributesSchema.safeParse(record);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join(".");
    return issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`;
  });
  throw new UserError(`the CloudEvent is not valid: ${problems.join("; ")}`);
}

function checkExtensionName(name: string): string {
  if (!EXTENSION_NAME.test(name)) {
    throw new UserError(
      `"${name.slice(0, 64)}" is no CloudEvents attribute: extension names are 1 to 20 lower-case letters and digits`,
    );
  }
  return name;
}

function checkExtensionValue(name: string, value: unknown): AttributeValue {
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  throw new UserError(`the extension attribute ${name} must be a string, an integer or a boolean`);
}

/** The binding percent-encodes header values outside printable ASCII, and " and % themselves. */
function percentDecoded(attribute: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new UserError(`the header ce-${attribute} is not valid percent-encoded UTF-8`);
  }
}

function header(headers: HttpMessage["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The event as its structured-mode JSON, the way it is recorded and listed */
export function structuredForm(event: ReceivedCloudEvent): Record<string, unknown> {
  const { mode: _mode, extensions, ...attributes } = event;
  return { ...attributes, ...extensions };
}
