/**
 * Environment values at rest: a service's `run.env` and `build.env` (database passwords, API
 * keys) are sealed with AES-256-GCM under a key of the state before they reach the database,
 * and opened only when read back. A sealed value that was altered, or sealed under another
 * key, is refused rather than handed to an app.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const PREFIX = "waybill-sealed:v1:";
const KEY_BYTES = 32;
const IV_BYTES = 12;

export class EnvSealer {
  private constructor(private readonly key: Buffer) {}

  static fromKey(key: Buffer): EnvSealer {
    if (key.length !== KEY_BYTES)
      throw new Error(`an env sealing key is ${KEY_BYTES} bytes, got ${key.length}`);
    return new EnvSealer(key);
  }

  static newKey(): Buffer {
    return randomBytes(KEY_BYTES);
  }

  seal(value: string): string {
    if (value.startsWith(PREFIX)) return value;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const sealed = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return `${PREFIX}${[iv, cipher.getAuthTag(), sealed].map((part) => part.toString("base64url")).join(".")}`;
  }

  open(value: string): string {
    if (!value.startsWith(PREFIX)) return value;
    const [iv, tag, sealed] = value
      .slice(PREFIX.length)
      .split(".")
      .map((part) => Buffer.from(part, "base64url"));
    if (iv === undefined || tag === undefined || sealed === undefined || iv.length !== IV_BYTES) {
      throw new Error("a sealed environment value is malformed");
    }
    const decipher = createDecipheriv("aes-256-gcm", this.key, iv);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed), decipher.final()]).toString("utf8");
    } catch {
      throw new Error(
        "a sealed environment value does not open with this state's key: it was altered, or sealed elsewhere",
      );
    }
  }

  /** The spec with the values of `run.env` and `build.env` sealed (or opened); other fields as they are. */
  sealSpec(spec: unknown): unknown {
    return mapSpecEnv(spec, (value) => this.seal(value));
  }

  openSpec(spec: unknown): unknown {
    return mapSpecEnv(spec, (value) => this.open(value));
  }

  sealEnv(env: Record<string, string>): Record<string, string> {
    return mapValues(env, (value) => this.seal(value));
  }

  openEnv(env: Record<string, string>): Record<string, string> {
    return mapValues(env, (value) => this.open(value));
  }
}

function mapSpecEnv(spec: unknown, change: (value: string) => string): unknown {
  if (!isRecord(spec)) return spec;
  const copy: Record<string, unknown> = { ...spec };
  for (const block of ["run", "build"]) {
    const section = copy[block];
    if (!isRecord(section) || !isRecord(section.env)) continue;
    const env = section.env;
    copy[block] = {
      ...section,
      env: Object.fromEntries(
        Object.entries(env).map(([name, value]) => [name, typeof value === "string" ? change(value) : value]),
      ),
    };
  }
  return copy;
}

function mapValues(env: Record<string, string>, change: (value: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, change(value)]));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
