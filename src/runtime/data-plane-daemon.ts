/**
 * The data plane as a process of its own: the stage proxies keep serving with their last routes
 * while the control plane is away (killed, restarting, upgraded), as a Kubernetes node keeps
 * serving without its API server. The control plane drives it over a Unix socket only it can
 * open (mode 0600, in the state directory), with small JSON requests; see remote-data-plane.ts.
 *
 * It ends on `/shutdown` (`waybill down`), on SIGTERM, or when its state directory is gone.
 */
import { createHash, randomUUID } from "node:crypto";
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { join } from "node:path";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { InProcessDataPlane } from "./data-plane.js";
import type { TrafficWindow } from "./types.js";

const SOCKET_PATH_LIMIT = 100;
const STATE_CHECK_INTERVAL_MS = 2000;

export interface DataPlaneInfo {
  pid: number;
  socket: string;
  metricsUrl: string | null;
}

export function dataPlaneInfoFile(stateDir: string): string {
  return join(stateDir, "data-plane.json");
}

/** In the state directory; a path too long for a Unix socket gets a private one in /tmp instead. */
export function dataPlaneSocket(stateDir: string): string {
  const inState = join(stateDir, "data-plane.sock");
  if (inState.length <= SOCKET_PATH_LIMIT) return inState;
  return join("/tmp", `waybill-${createHash("sha256").update(stateDir).digest("hex").slice(0, 16)}.sock`);
}

const stageKey = z.object({ service: z.string().min(1), stage: z.string().min(1) });
const routes = z.object({
  stable: z.string().nullable(),
  candidate: z.string().nullable(),
  candidateWeight: z.number().min(0).max(100),
});
const port = z.number().int().min(1).max(65535);
const upstream = stageKey.extend({
  instanceId: z.string().min(1),
  version: z.string(),
  port: port.nullable(),
  tlsPort: port.nullable().optional(),
});
const meshTls = z.object({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  caFile: z.string().min(1),
  trustDomain: z.string().min(1),
});

export const DATA_PLANE_REQUESTS = {
  "/open": z.object({
    key: stageKey,
    routes,
    port: port.optional(),
    reserved: z.array(port),
    tls: meshTls.optional(),
  }),
  "/routes": z.object({ key: stageKey, routes }),
  "/retain": z.object({ keys: z.array(stageKey) }),
  "/upstreams": z.object({ entries: z.array(upstream), replaceAll: z.boolean() }),
  "/upstreams/remove": z.object({ instanceId: z.string() }),
  "/windows/open": z.object({ key: stageKey }),
  "/windows/read": z.object({ id: z.string() }),
  "/windows/close": z.object({ id: z.string() }),
  "/stats": z.object({ key: stageKey }),
  "/idle": z.object({ key: stageKey, instanceId: z.string(), timeoutMs: z.number().min(0) }),
  "/hello": z.object({}),
  "/shutdown": z.object({}),
} as const;

export type DataPlanePath = keyof typeof DATA_PLANE_REQUESTS;
export type DataPlaneRequest<P extends DataPlanePath> = z.infer<(typeof DATA_PLANE_REQUESTS)[P]>;

export interface DaemonOptions {
  stateDir: string;
  portRange: [number, number];
  metricsPort: number;
}

/** Serves until shut down; resolves then. */
export async function runDataPlaneDaemon(options: DaemonOptions): Promise<void> {
  const plane = await startPlane(options);
  const windows = new Map<string, TrafficWindow>();
  const socket = dataPlaneSocket(options.stateDir);
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let stopping = false;

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(stateCheck);
    await plane.close();
    server.close();
    server.closeAllConnections();
    rmSync(socket, { force: true });
    rmSync(dataPlaneInfoFile(options.stateDir), { force: true });
    finish();
  };

  const handlers: { [P in DataPlanePath]: (body: DataPlaneRequest<P>) => Promise<unknown> } = {
    "/hello": async () => info(),
    "/open": ({ key, routes: wanted, port: stable, reserved, tls }) =>
      plane.openStage(key, wanted, {
        ...(stable === undefined ? {} : { port: stable }),
        ...(tls === undefined ? {} : { tls }),
        reserved,
      }),
    "/routes": ({ key, routes: wanted }) => plane.setRoutes(key, wanted),
    "/retain": ({ keys }) => plane.retainStages(keys),
    "/upstreams": ({ entries, replaceAll }) => plane.putUpstreams(entries, replaceAll),
    "/upstreams/remove": ({ instanceId }) => plane.removeUpstream(instanceId),
    "/windows/open": async ({ key }) => {
      const id = randomUUID();
      windows.set(id, plane.openMeterWindow(key));
      return { id };
    },
    "/windows/read": async ({ id }) => windowOf(id).read(),
    "/windows/close": async ({ id }) => {
      windowOf(id).close();
      windows.delete(id);
    },
    "/stats": ({ key }) => plane.stats(key),
    "/idle": async ({ key, instanceId, timeoutMs }) => ({
      idle: await plane.whenIdle(key, instanceId, timeoutMs),
    }),
    "/shutdown": async () => {
      setImmediate(() => void stop());
    },
  };
  const windowOf = (id: string): TrafficWindow => {
    const window = windows.get(id);
    if (window === undefined)
      throw new NotFound(`no traffic window ${id}: the data plane was restarted since`);
    return window;
  };
  const info = (): DataPlaneInfo => ({ pid: process.pid, socket, metricsUrl: plane.metricsUrl() ?? null });

  const server = createServer({ requestTimeout: 0 }, (request, response) => {
    void answer(request, response, handlers);
  });
  await listenOnSocket(server, socket);
  const temporary = `${dataPlaneInfoFile(options.stateDir)}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(info(), null, 2), { mode: 0o600 });
  renameSync(temporary, dataPlaneInfoFile(options.stateDir));

  // A state directory removed under it (a test's scratch folder, an uninstall) leaves nobody to stop it.
  const stateCheck = setInterval(() => {
    if (!existsSync(dataPlaneInfoFile(options.stateDir))) void stop();
  }, STATE_CHECK_INTERVAL_MS);
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
  await finished;
}

async function startPlane(options: DaemonOptions): Promise<InProcessDataPlane> {
  try {
    return await InProcessDataPlane.start({ portRange: options.portRange, metricsPort: options.metricsPort });
  } catch (error) {
    if (options.metricsPort === 0) throw error;
    // The metrics port of a previous run can be taken by now; any port beats no data plane.
    return InProcessDataPlane.start({ portRange: options.portRange, metricsPort: 0 });
  }
}

class NotFound extends Error {}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  handlers: { [P in DataPlanePath]: (body: DataPlaneRequest<P>) => Promise<unknown> },
): Promise<void> {
  const reply = (status: number, body: unknown): void => {
    const text = JSON.stringify(body ?? null);
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    response.end(text);
  };
  try {
    const path = request.url ?? "";
    if (request.method !== "POST" || !(path in DATA_PLANE_REQUESTS)) {
      reply(404, { error: `no ${request.method ?? ""} ${path} on the data plane` });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let raw: unknown = {};
    try {
      if (chunks.length > 0) raw = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      reply(400, { error: `bad ${path} request: the body is not JSON` });
      return;
    }
    const typedPath = path as DataPlanePath;
    const parsed = DATA_PLANE_REQUESTS[typedPath].safeParse(raw);
    if (!parsed.success) {
      reply(400, { error: `bad ${path} request: ${parsed.error.message}` });
      return;
    }
    const handler = handlers[typedPath] as (body: unknown) => Promise<unknown>;
    reply(200, await handler(parsed.data));
  } catch (error) {
    reply(error instanceof NotFound ? 404 : 500, { error: errorMessage(error) });
  }
}

/** The control plane starts a daemon only when none answers, so a socket file here is a dead one's. */
async function listenOnSocket(server: Server, socket: string): Promise<void> {
  rmSync(socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(socket, 0o600);
}
