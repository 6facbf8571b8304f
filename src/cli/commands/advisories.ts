import { cpSync, existsSync, mkdirSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { UserError } from "../../errors.js";
import { defaultArchiveUrl, downloadArchive, OSV_ECOSYSTEMS } from "../../evidence/vulns/download.js";
import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, oneOf, text } from "../options.js";
import { table } from "../views.js";
import { getAdvisories, importAdvisories } from "../../api/recall.js";
import { whoami } from "../../api/system.js";

interface AdvisoriesView {
  advisories: Record<string, number>;
  newestModified: string | null;
  source: string;
}

export const advisoriesCommand = defineCommand({
  name: "advisories",
  args: {
    action: argument(oneOf(["list", "import"]).prefault("list")),
    source: argument(
      text.optional(),
      `an OSV .json file, a folder of them, an all.zip, a URL, or an ecosystem (${OSV_ECOSYSTEMS.join(", ")}) for OSV's archive`,
    ),
  },
  options: { json: option("--json", "print JSON", flag) },
  async run({ action, source }, options, context) {
    const advisoriesDir = join(context.stateDir, "advisories");
    if (action === "import") {
      if (source === undefined)
        throw new UserError("waybill advisories import needs a file, folder, URL or ecosystem");
      const client = await connect(context.stateDir);
      // Checked before anything is placed: files left in the folder would be imported by the next ship.
      const { role } = await client.call(whoami, {});
      if (role !== "admin") {
        throw new UserError(`importing advisories needs the admin role; your token has ${role}`, 2, 403);
      }
      mkdirSync(advisoriesDir, { recursive: true });
      await place(source, advisoriesDir, context.stderr);
      const imported = await client.call(importAdvisories, { body: {} });
      context.stdout(`imported ${imported.imported} advisories\n`);
      context.stdout(describe(imported));
      return 0;
    }
    const client = await connect(context.stateDir);
    const view = await client.call(getAdvisories, {});
    if (options.json) printJson(context, view);
    else context.stdout(describe(view));
    return 0;
  },
});

/** Puts the source into the advisories folder: copied, or downloaded with progress. */
async function place(source: string, dir: string, say: (text: string) => void): Promise<void> {
  const url = /^https?:\/\//.test(source) ? source : defaultArchiveUrl(source);
  if (url !== undefined) {
    const name = /^https?:\/\//.test(source)
      ? basename(new URL(source).pathname) || "advisories.zip"
      : `${source}-all.zip`;
    let reported = -1;
    const bytes = await downloadArchive(url, join(dir, name), ({ bytes, total }) => {
      const step = total === null ? Math.floor(bytes / 1_048_576) : Math.floor((10 * bytes) / total);
      if (step === reported) return;
      reported = step;
      say(
        total === null
          ? `downloading ${url}: ${mib(bytes)}\n`
          : `downloading ${url}: ${mib(bytes)} of ${mib(total)} (${Math.round((100 * bytes) / total)}%)\n`,
      );
    });
    say(`downloaded ${mib(bytes)} to ${join(dir, name)}\n`);
    return;
  }
  const path = resolve(source);
  if (!existsSync(path)) {
    throw new UserError(
      `${source} is neither a file, a folder, a URL nor an ecosystem (${OSV_ECOSYSTEMS.join(", ")})`,
    );
  }
  cpSync(path, join(dir, basename(path)), { recursive: statSync(path).isDirectory() });
  say(`copied ${path} into ${dir}\n`);
}

function describe(view: AdvisoriesView): string {
  const ecosystems = Object.entries(view.advisories).sort(([a], [b]) => a.localeCompare(b));
  if (ecosystems.length === 0) {
    return `no advisories are loaded (from ${view.source}): every vulnerability scan will say "not scanned". Import some: waybill advisories import npm\n`;
  }
  const age =
    view.newestModified === null
      ? "unknown"
      : `${Math.floor((Date.now() - Date.parse(view.newestModified)) / 86_400_000)} days`;
  return `${table([["ECOSYSTEM", "ADVISORIES"], ...ecosystems.map(([name, count]) => [name, String(count)])])}newest advisory ${view.newestModified ?? "-"} (${age} old), from ${view.source}\n`;
}

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}
