/**
 * What `waybill login` saves: the shared control plane's URL and the user's token, in a file only
 * its owner may read (`$WAYBILL_CONFIG_DIR`, else `$XDG_CONFIG_HOME/waybill`, else
 * `~/.config/waybill`). A file others may read is refused, as the state's tokens file is.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";

const loginSchema = z.strictObject({ url: z.url(), token: z.string().min(16) });
export type Login = z.output<typeof loginSchema>;

export function loginFile(): string {
  const own = process.env.WAYBILL_CONFIG_DIR;
  if (own !== undefined && own !== "") return join(own, "login.json");
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".config"), "waybill", "login.json");
}

export function readLogin(): Login | undefined {
  const file = loginFile();
  if (!existsSync(file)) return undefined;
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new UserError(
      `${file} holds your token and is open to other users (mode ${mode.toString(8).padStart(4, "0")}): ` +
        `run chmod 600 ${file}, or waybill logout and log in again`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new UserError(`${file} is not valid JSON: run waybill logout, then waybill login <url> again`);
  }
  const login = loginSchema.safeParse(parsed);
  if (!login.success) {
    throw new UserError(
      `${file} is not a login Waybill wrote: run waybill logout, then waybill login <url> again`,
    );
  }
  return login.data;
}

/** Written whole or not at all: a login cut short never leaves half a token behind */
export function saveLogin(login: Login): string {
  const file = loginFile();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, file);
  return file;
}

export function forgetLogin(): string | undefined {
  const file = loginFile();
  if (!existsSync(file)) return undefined;
  rmSync(file);
  return file;
}
