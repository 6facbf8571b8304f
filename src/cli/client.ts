/**
 * The CLI's way to the control plane: it reads `<state>/control-plane.json` and the token,
 * and starts a local control plane in the background when none answers.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";
import { loginFile, readLogin } from "./login-file.js";
import { stateWasNamed } from "./state-choice.js";
import { parseProblem } from "../api/problem.js";
import { pathFor, type RouteContract } from "../api/contract.js";
import type { ControlPlaneInfo } from "../server/control-plane.js";

const STARTUP_TIMEOUT_MS = 30_000;
const RECONNECT_PAUSE_MS = 500;

/** A control plane that went away mid-command (killed, restarted): a read may reach its successor. */
const CONNECTION_LOST = new Set(["ECONNREFUSED", "ECONNRESET"]);

export class ApiClient {
  private reconnect: (() => Promise<ApiClient>) | null = null;

  constructor(
    public baseUrl: string,
    private token: string,
  ) {}

  /**
   * Where a successor is found (or started) when the control plane stops answering. Only reads
   * go again: a write that may have been carried out is never sent twice.
   */
  reconnectWith(find: () => Promise<ApiClient>): this {
    this.reconnect = find;
    return this;
  }

  /**
   * Calls a route by its contract, and reads the answer through the contract's schema: an
   * answer that is not what the contract says is an error here, never a wrong value later.
   */
  async call<Params, Query, Body, Response>(
    contract: RouteContract<Params, Query, Body, Response>,
    input: CallInput<Params, Query, Body>,
  ): Promise<Response> {
    const path =
      pathFor(contract.path, input.params as Record<string, string> | undefined) + queryString(input.query);
    const answer =
      contract.method === "GET"
        ? await this.get<unknown>(path)
        : await this.request<unknown>(contract.method, path, input.body ?? {});
    if (!("schema" in contract.response)) throw new Error(`${contract.path} does not answer JSON`);
    const parsed = contract.response.schema.safeParse(answer);
    if (!parsed.success) {
      throw new Error(
        `the control plane's answer to ${contract.method} ${contract.path} is not what this CLI expects ` +
          `(${parsed.error.issues[0]?.path.join(".") ?? ""}: ${parsed.error.issues[0]?.message ?? ""}); ` +
          `is it another version of Waybill?`,
      );
    }
    return parsed.data;
  }

  async get<T>(path: string): Promise<T> {
    try {
      return await this.request<T>("GET", path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (this.reconnect === null || code === undefined || !CONNECTION_LOST.has(code)) throw error;
      const successor = await this.successor(this.reconnect);
      this.baseUrl = successor.baseUrl;
      this.token = successor.token;
      return this.request<T>("GET", path);
    }
  }

  /** A control plane killed a moment ago still holds its lock until the kernel has reaped it. */
  private async successor(find: () => Promise<ApiClient>): Promise<ApiClient> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      try {
        return await find();
      } catch (error) {
        if (Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_PAUSE_MS));
      }
    }
  }

  async text(path: string): Promise<string> {
    const response = await this.send("GET", path);
    if (response.status >= 400) raise(response);
    return response.body;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    if (response.status >= 400) raise(response);
    return JSON.parse(response.body) as T;
  }

  /**
   * One request over node:http. Not fetch: its first call in a process compiles undici's HTTP
   * parser (WebAssembly), about 150 ms that every CLI command would pay for one local request.
   */
  private send(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        new URL(path, this.baseUrl),
        {
          method,
          // A kept-alive socket would hold the command open after its last request.
          agent: false,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
        },
      );
      outgoing.on("error", reject);
      outgoing.end(payload);
    });
  }
}

/** What a call sends; a part the route does not take is `undefined` */
export type CallInput<Params, Query, Body> = (Params extends undefined
  ? { params?: undefined }
  : { params: Params }) &
  (Query extends undefined ? { query?: undefined } : { query?: Partial<Query> }) &
  (Body extends undefined ? { body?: undefined } : { body: Body });

function queryString(query: unknown): string {
  if (query === undefined || query === null) return "";
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    if (value !== undefined) search.set(name, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

function raise(response: { status: number; body: string }): never {
  const message = parseProblem(response.body)?.detail ?? response.body;
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

/**
 * Where a shared control plane is, when the CLI should use one: `WAYBILL_URL` (with
 * `WAYBILL_TOKEN`), else what `waybill login` saved, unless a local state was named with
 * `--state` or `WAYBILL_STATE` (then that state's own control plane).
 */
export function sharedControlPlane(
  stateNamed: boolean,
): { url: string; token: string; from: string } | undefined {
  const url = process.env.WAYBILL_URL?.trim();
  if (url !== undefined && url !== "") {
    const token = process.env.WAYBILL_TOKEN?.trim();
    if (token === undefined || token === "") {
      throw new UserError(
        `WAYBILL_URL is set (${url}) but WAYBILL_TOKEN is not: give the token the control plane's admin made for you`,
      );
    }
    return { url, token, from: "WAYBILL_URL" };
  }
  if (stateNamed) return undefined;
  const saved = readLogin();
  return saved === undefined ? undefined : { ...saved, from: loginFile() };
}

export async function connect(stateDir: string): Promise<ApiClient> {
  const shared = sharedControlPlane(stateWasNamed());
  if (shared !== undefined) return new ApiClient(shared.url, shared.token);
  const client = (await findControlPlane(stateDir)) ?? (await startControlPlaneProcess(stateDir));
  return client.reconnectWith(() => connect(stateDir));
}

async function startControlPlaneProcess(stateDir: string): Promise<ApiClient> {
  if (!existsSync(join(stateDir, "waybill.db"))) {
    for (const other of otherControlPlanes(stateDir)) {
      process.stderr.write(
        `waybill: starting a new, empty control plane for ${stateDir}; another one (pid ${other.pid}) ` +
          `runs for ${other.stateDir}. To use that one, run from its project or pass --state ${other.stateDir}\n`,
      );
    }
  }
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

/** Control planes running on this machine for other state folders, read from /proc (Linux). */
function otherControlPlanes(stateDir: string): { pid: number; stateDir: string }[] {
  if (!existsSync("/proc/self/cmdline")) return [];
  const found: { pid: number; stateDir: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const state = argv[argv.indexOf("--state") + 1];
    if (
      isControlPlaneCommandLine(argv) &&
      argv.includes("--state") &&
      state !== undefined &&
      state !== stateDir
    ) {
      found.push({ pid: Number(entry), stateDir: state });
    }
  }
  return found;
}

/** `node …/waybill.js serve …`: a pid can be reused, so only such a process is taken for one. */
export function isControlPlaneCommandLine(argv: readonly string[]): boolean {
  return argv.includes("serve") && argv.some((arg) => /(waybill|main)\.js$/.test(arg));
}
