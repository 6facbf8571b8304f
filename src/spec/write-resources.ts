/**
 * Puts a size into a waybill.yaml's `resources`, keeping every comment and the layout of
 * everything else (the yaml library's document model edits the parsed document in place).
 * Pure: text in, text out.
 */
import { isMap, parseDocument } from "yaml";
import { UserError } from "../errors.js";

export function writeResources(text: string, size: { cpu: string; memory: string }): string {
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new UserError(`the waybill.yaml does not parse: ${document.errors[0]?.message ?? "invalid YAML"}`);
  }
  if (!isMap(document.contents)) throw new UserError("the waybill.yaml is not a mapping");
  const resources = document.get("resources", true);
  if (resources !== undefined && !isMap(resources)) {
    throw new UserError("resources in the waybill.yaml is not a mapping; write cpu and memory under it");
  }
  document.setIn(["resources", "cpu"], quotedIfNumeric(size.cpu));
  document.setIn(["resources", "memory"], size.memory);
  return document.toString();
}

/** "1" stays the string it is in the schema's own spelling, not the number 1 */
function quotedIfNumeric(cpu: string): string | number {
  return /^\d+(\.\d+)?$/.test(cpu) ? Number(cpu) : cpu;
}
