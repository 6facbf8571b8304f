/**
 * The state folder holds the secrets of the control plane (the admin token, tokens.json, the
 * signing keys, the env sealing key, the database) beside what apps need to reach (their
 * artifacts and working folders). Secrets are mode 0600 in 0700 folders; the state folder
 * itself is 0711, so an app running as another user can pass through it to its artifact but
 * can neither list it nor read a secret. Modes are put right on every start, not only on the
 * first, so an older state folder is tightened too.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EnvSealer } from "../store/env-sealer.js";

const SECRET_FILES = [
  "token",
  "id",
  "control-plane.json",
  "control-plane.pid",
  "waybill.db",
  "waybill.db-wal",
  "waybill.db-shm",
];
const SECRET_FOLDERS = ["keys", "logs", "gitops"];
/** Not `.key`: the evidence service takes the first `*.key` in keys/ for its signing key. */
const ENV_KEY_FILE = "env-sealing.secret";

export function protectStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  chmodSync(stateDir, 0o711);
  for (const folder of SECRET_FOLDERS) {
    const path = join(stateDir, folder);
    if (!existsSync(path)) continue;
    chmodSync(path, 0o700);
  }
  for (const file of SECRET_FILES) {
    const path = join(stateDir, file);
    if (existsSync(path)) chmodSync(path, 0o600);
  }
  const keys = join(stateDir, "keys");
  if (existsSync(keys)) {
    for (const name of readdirSync(keys)) {
      if (!name.endsWith(".pub")) chmodSync(join(keys, name), 0o600);
    }
  }
}

/** The key that seals environment values in the database, made (0600) on first use. */
export function stateEnvSealer(stateDir: string): EnvSealer {
  const keys = join(stateDir, "keys");
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const file = join(keys, ENV_KEY_FILE);
  if (!existsSync(file)) {
    try {
      writeFileSync(file, EnvSealer.newKey().toString("hex"), { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  return EnvSealer.fromKey(Buffer.from(readFileSync(file, "utf8").trim(), "hex"));
}
