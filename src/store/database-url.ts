/**
 * The location of a shared database, as `--database` or WAYBILL_DATABASE_URL give it. Its
 * password is a secret: only the masked form is ever printed or logged.
 */
import { UserError } from "../errors.js";

const EXAMPLE = "postgres://user:password@host:5432/waybill";

/** The URL, checked to be a PostgreSQL one; `from` names where it came from, for the error. */
export function parseDatabaseUrl(text: string, from: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new UserError(
      `${from}: expected a PostgreSQL URL such as ${EXAMPLE}, got something that is not a URL`,
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new UserError(
      `${from}: expected a PostgreSQL URL such as ${EXAMPLE}, got a ${url.protocol.replace(/:$/, "")} URL ` +
        "(without a URL the control plane keeps its database in the state folder)",
    );
  }
  if (url.hostname === "" && !url.searchParams.has("host")) {
    throw new UserError(`${from}: the URL names no host; expected one such as ${EXAMPLE}`);
  }
  return url.toString();
}

/** The URL with its password (in the authority or as a parameter) replaced by ****. */
export function maskedDatabaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "(a database URL that does not parse)";
  }
  if (url.password !== "") url.password = "****";
  if (url.searchParams.has("password")) url.searchParams.set("password", "****");
  return url.toString().replace("%2A%2A%2A%2A", "****");
}

/** A message (a driver's error, say) with every form of the URL's password taken out. */
export function withoutPassword(message: string, text: string): string {
  let secrets: string[];
  try {
    const url = new URL(text);
    secrets = [url.password, decodeURIComponent(url.password), url.searchParams.get("password") ?? ""];
  } catch {
    return message;
  }
  let cleaned = message.split(text).join(maskedDatabaseUrl(text));
  for (const secret of secrets.filter((s) => s.length > 0)) cleaned = cleaned.split(secret).join("****");
  return cleaned;
}

/** `--database`, else WAYBILL_DATABASE_URL, checked; undefined for the embedded database. */
export function databaseUrlFrom(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (flag !== undefined) return parseDatabaseUrl(flag, "--database");
  const fromEnv = env.WAYBILL_DATABASE_URL;
  return fromEnv === undefined || fromEnv === ""
    ? undefined
    : parseDatabaseUrl(fromEnv, "WAYBILL_DATABASE_URL");
}
