/**
 * The user apps run as. A control plane running as root starts apps as an unprivileged user of
 * their own (`waybill-app`, made on first use, or the one `WAYBILL_APP_USER` names), so an app
 * can read neither the tokens, the signing keys nor the database, and cannot write its own
 * artifact. A control plane running as a normal user can only start apps as itself: then the
 * file modes and the working folder are all that separate them (see README.md).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const DEFAULT_APP_USER = "waybill-app";

export interface AppUser {
  name: string;
  uid: number;
  gid: number;
}

/** Undefined when this process is not root: apps then run as this user. */
export function resolveAppUser(configured: string | undefined): AppUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = configured ?? DEFAULT_APP_USER;
  const existing = lookUpUser(name);
  if (existing !== undefined) return existing;
  if (configured !== undefined) {
    throw new Error(`WAYBILL_APP_USER names "${name}", but there is no such user on this machine`);
  }
  execFileSync(
    "useradd",
    ["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const created = lookUpUser(name);
  if (created === undefined) throw new Error(`useradd did not create the user ${name}`);
  return created;
}

/** The app's argv, run as `user` by setpriv (util-linux): real and effective ids, no supplementary groups. */
export function commandAsUser(user: AppUser, command: readonly string[]): string[] {
  return ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--", ...command];
}

function lookUpUser(name: string): AppUser | undefined {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  return undefined;
}

/**
 * Where the artifacts and the apps' working folders live. Apps running as another user must be
 * able to pass through every folder above them; a state folder inside a private one (a home
 * folder, a `mktemp -d`) cannot be, so theirs then goes to a folder of this control plane's
 * own under /var/lib/waybill/apps.
 */
export function appRootFor(stateDir: string, controlPlaneId: string, user: AppUser | undefined): string {
  if (user === undefined || everyFolderAboveIsPassable(resolve(stateDir))) return stateDir;
  const root = join("/var/lib/waybill/apps", controlPlaneId);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  return root;
}

function everyFolderAboveIsPassable(path: string): boolean {
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    if ((statSync(folder).mode & 0o001) === 0) return false;
    if (dirname(folder) === folder) return true;
  }
}
