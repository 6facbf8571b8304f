import { writeFile } from "node:fs/promises";
import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { flag, text } from "../options.js";
import { generateSbom } from "../../evidence/sbom/index.js";
import type { CycloneDxBom } from "../../evidence/sbom/index.js";

export const sbomCommand = defineCommand({
  name: "sbom",
  args: { dir: argument(text, "the artifact folder") },
  options: {
    json: option("--json", "print the CycloneDX JSON instead of a summary", flag),
    out: option("--out <file>", "write the CycloneDX JSON to a file", text.optional()),
  },
  async run({ dir }, options, context) {
    const { bom, warnings } = await generateSbom(dir);
    for (const warning of warnings) context.stderr(`warning: ${warning}\n`);
    const json = `${JSON.stringify(bom, null, 2)}\n`;
    if (options.out !== undefined) {
      await writeFile(options.out, json);
      context.stderr(`wrote ${options.out}: ${summary(bom)}\n`);
    }
    if (options.json) printJson(context, bom);
    else if (options.out === undefined) context.stdout(`${summary(bom)}\n`);
    return 0;
  },
});

/** `1163 components (npm 1160, pypi 3)`, ecosystems by count, largest first. */
export function summary(bom: CycloneDxBom): string {
  const counts = new Map<string, number>();
  for (const component of bom.components ?? []) {
    const type = /^pkg:([^/]+)\//.exec(component.purl ?? "")?.[1] ?? "other";
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  const total = bom.components?.length ?? 0;
  const parts = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const noun = total === 1 ? "component" : "components";
  return parts.length === 0
    ? `0 components`
    : `${total} ${noun} (${parts.map(([type, count]) => `${type} ${count}`).join(", ")})`;
}
