import { resolve } from "node:path";
import { databaseUrlFrom } from "../../store/database-url.js";
import { migrateDatabase } from "../../store/open-store.js";
import { defineCommand, option } from "../command.js";
import { text } from "../options.js";

export const migrateCommand = defineCommand({
  name: "migrate",
  options: {
    database: option(
      "--database <url>",
      "a PostgreSQL URL (default: $WAYBILL_DATABASE_URL, else the state folder's SQLite database)",
      text.optional(),
    ),
  },
  async run(_args, options, context) {
    const databaseUrl = databaseUrlFrom(options.database);
    const report = await migrateDatabase({ stateDir: resolve(context.stateDir), databaseUrl });
    const newest = report.before.newestKnown;
    if (report.applied.length === 0) {
      context.stdout(`${report.where}: up to date (newest migration ${newest})\n`);
      return 0;
    }
    context.stdout(
      [
        `${report.where}: applied ${report.applied.length} migration(s)`,
        ...report.applied.map((name) => `  ${name}`),
        `now at ${newest}`,
        "",
      ].join("\n"),
    );
    return 0;
  },
});
