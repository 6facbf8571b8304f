/**
 * The CLI's way to the control plane: it reads `<state>/control-plane.json` and the token,
 * and starts a local control plane in the background when none answers.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";
import type { ControlPlaneInfo } from "../server/control-plane.js";

const STARTUP_TIMEOUT_MS = 30_000;

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  async text(path: string): Promise<string> {
    const response = await fetch(this.baseUrl + path, { headers: this.headers() });
    if (!response.ok) await raise(response);
    return response.text();
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: { ...this.headers(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) await raise(response);
    return (await response.json()) as T;
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }
}

async function raise(response: Response): Promise<never> {
  const text = await response.text();
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: keep the text as it came
  }
  if (response.status >= 400 && response.status < 500) throw new UserError(message, 2, response.status);
  throw new Error(`the control plane answered ${response.status}: ${message}`);
}

export function readControlPlaneInfo(stateDir: string): ControlPlaneInfo | undefined {
  const file = join(stateDir, "control-plane.json");
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as ControlPlaneInfo;
  } catch {
    return undefined;
  }
}

/** `WAYBILL_TOKEN` acts with that token's role; otherwise the local admin token is used. */
function readToken(stateDir: string): string | undefined {
  const presented = process.env.WAYBILL_TOKEN?.trim();
  if (presented !== undefined && presented !== "") return presented;
  const file = join(stateDir, "token");
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

/** A client for a control plane that answers now, or undefined. */
export async function findControlPlane(stateDir: string): Promise<ApiClient | undefined> {
  const info = readControlPlaneInfo(stateDir);
  const token = readToken(stateDir);
  if (info === undefined || token === undefined) return undefined;
  const client = new ApiClient(info.url, token);
  try {
    await client.get("/v1/health");
    return client;
  } catch {
    return undefined;
  }
}

export async function connect(stateDir: string): Promise<ApiClient> {
  return (await findControlPlane(stateDir)) ?? startControlPlaneProcess(stateDir);
}

async function startControlPlaneProcess(stateDir: string): Promise<ApiClient> {
  mkdirSync(join(stateDir, "logs"), { recursive: true });
  const logFile = join(stateDir, "logs", "control-plane.log");
  const log = openSync(logFile, "a");
  const main = fileURLToPath(new URL("./main.js", import.meta.url));
  const child = spawn(process.execPath, [main, "--state", stateDir, "serve", "--port", "0"], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    const info = readControlPlaneInfo(stateDir);
    if (info?.pid === child.pid) {
      const client = await findControlPlane(stateDir);
      if (client) return client;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tailOfLog = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-8).join("\n") : "";
  throw new Error(
    `could not start the control plane (${exited === undefined ? "it did not answer in time" : `exit code ${exited}`}); see ${logFile}\n${tailOfLog}`,
  );
}
