/**
 * The HTTP API. Every route names the least role that may call it; a missing or wrong token
 * gets 401, too small a role 403. Request bodies are parsed once, here, into types.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";
import { NotFoundError, UserError, errorMessage } from "../errors.js";
import type { Engine } from "../engine/engine.js";
import { stageStatus } from "../engine/status.js";
import { diffSignatures } from "../gate/signature-diff.js";
import type { EvaluationRecord, RunRecord, Store } from "../store/store.js";
import type { StoredEvent } from "../store/events.js";
import { allows, type Principal, type Role, type TokenRegistry } from "./auth.js";
import type { Deliveries } from "../engine/deliveries.js";

declare module "fastify" {
  interface FastifyContextConfig {
    role?: Role;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AppDependencies {
  store: Store;
  engine: Engine;
  deliveries: Deliveries;
  tokens: TokenRegistry;
  stageUrl(service: string, stage: string): string | undefined;
  readLogs(service: string, stage: string, stream: "stdout" | "stderr", tailBytes: number): Promise<string>;
  shutdown(stopApps: boolean): void;
}

const shipBody = z.strictObject({
  spec: z.unknown(),
  serviceDir: z.string().min(1),
  artifactDir: z.string().min(1),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  version: z.string().min(1).max(128),
});
const rejectBody = z.strictObject({ reason: z.string().max(2000).optional() }).optional();
const runsQuery = z.strictObject({
  service: z.string().optional(),
  ship: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const logsQuery = z.strictObject({
  stream: z.enum(["stdout", "stderr"]).default("stdout"),
  tail: z.coerce.number().int().min(1).max(10_000_000).default(65_536),
});
const signaturesQuery = z.strictObject({ service: z.string().optional(), stage: z.string().optional() });
const signatureDiffQuery = signaturesQuery.extend({ a: z.string().min(1), b: z.string().min(1) });
const shutdownBody = z.strictObject({ stopApps: z.boolean().default(true) }).optional();

export function publicRun(run: RunRecord) {
  return {
    id: run.id,
    service: run.service,
    stage: run.stage,
    version: run.version,
    digest: run.digest,
    kind: run.kind,
    state: run.state,
    result: run.result,
    task: run.task,
    reason: run.reason,
    shipId: run.shipId,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}

function publicEvent(event: StoredEvent) {
  const { seq: _seq, ...cloudEvent } = event;
  return cloudEvent;
}

export interface RouteInfo {
  method: string;
  url: string;
  role: Role;
}

/** Builds the API; `routes` lists every route with its role, so tests can prove each is guarded. */
export async function buildApp(
  deps: AppDependencies,
): Promise<{ app: FastifyInstance; routes: RouteInfo[] }> {
  const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
  const routes: RouteInfo[] = [];
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method !== "HEAD") routes.push({ method, url: route.url, role: route.config?.role ?? "admin" });
    }
  });

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = deps.tokens.authenticate(request.headers.authorization);
    if (principal === undefined) {
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="waybill"')
        .send({ error: "a valid bearer token is required (see <state>/token)" });
    }
    const required = request.routeOptions.config.role ?? "admin";
    if (!allows(principal.role, required)) {
      return reply
        .code(403)
        .send({ error: `this needs the ${required} role; your token has ${principal.role}` });
    }
    request.principal = principal;
  });

  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof UserError) return reply.code(error.httpStatus).send({ error: error.message });
    if (error instanceof z.ZodError) {
      const detail = error.issues
        .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
        .join("; ");
      return reply.code(400).send({ error: `bad request: ${detail}` });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: errorMessage(error) });
    }
    process.stderr.write(`waybill api: ${errorMessage(error)}\n`);
    return reply.code(500).send({ error: "internal error; see the control plane's log" });
  });

  const viewer = { config: { role: "viewer" as Role } };
  const developer = { config: { role: "developer" as Role } };
  const approver = { config: { role: "approver" as Role } };
  const admin = { config: { role: "admin" as Role } };

  app.get("/v1/health", viewer, async () => ({ ok: true, pid: process.pid }));

  app.post("/v1/ships", developer, async (request, reply) => {
    const body = shipBody.parse(request.body);
    const ship = await deps.deliveries.ship(body);
    return reply.code(201).send({ shipId: ship.shipId, runs: ship.runs.map(publicRun) });
  });

  app.get("/v1/status", viewer, async (request) => {
    const { service } = z.strictObject({ service: z.string().optional() }).parse(request.query);
    const services = (await deps.store.listServices()).filter(
      (s) => service === undefined || s.name === service,
    );
    if (service !== undefined && services.length === 0)
      throw new NotFoundError(`no service named "${service}"`);
    return {
      services: await Promise.all(
        services.map(async (s) => {
          const runs = await deps.store.listRuns({ service: s.name });
          const releases = await deps.store.currentReleases(s.name);
          return {
            name: s.name,
            stages: s.stages.map((stage) =>
              stageStatus(stage, runs, releases, deps.stageUrl(s.name, stage) ?? null),
            ),
          };
        }),
      ),
    };
  });

  app.get("/v1/runs", viewer, async (request) => {
    const query = runsQuery.parse(request.query);
    const runs = await deps.store.listRuns({
      ...(query.service === undefined ? {} : { service: query.service }),
      ...(query.ship === undefined ? {} : { shipId: query.ship }),
      limit: query.limit ?? 200,
    });
    return { runs: runs.map(publicRun) };
  });

  app.get<{ Params: { id: string } }>("/v1/runs/:id", viewer, async (request) => {
    const run = await findRun(deps.store, request.params.id);
    const events = await deps.store.events({ run: run.id });
    const evaluation = (await deps.store.evaluations(run.service, run.stage)).find((e) => e.runId === run.id);
    return { ...publicRun(run), evaluation: evaluation ?? null, events: events.map(publicEvent) };
  });

  app.get("/v1/signatures", viewer, async (request) => {
    const query = signaturesQuery.parse(request.query);
    const service = await serviceFor(deps.store, query.service);
    const records = await deps.store.evaluations(service, query.stage);
    return {
      signatures: records.map(
        ({ latencySamplesMs: _samples, evaluation: _evaluation, ...signature }) => signature,
      ),
    };
  });

  app.get("/v1/signatures/diff", viewer, async (request) => {
    const query = signatureDiffQuery.parse(request.query);
    const service = await serviceFor(deps.store, query.service);
    const records = await deps.store.evaluations(service, query.stage);
    const a = findSignature(records, query.a, undefined);
    const b = findSignature(records, query.b, a.stage);
    return {
      service,
      stage: a.stage,
      ...diffSignatures(
        { label: `${a.version} (${a.runId})`, values: a.values, latencySamplesMs: a.latencySamplesMs },
        { label: `${b.version} (${b.runId})`, values: b.values, latencySamplesMs: b.latencySamplesMs },
      ),
    };
  });

  app.post<{ Params: { id: string } }>("/v1/runs/:id/approve", approver, async (request) => {
    const run = await waitingRun(deps.store, request.params.id);
    await deps.engine.approve(run.id, request.principal?.name ?? "unknown");
    return publicRun(await findRun(deps.store, run.id));
  });

  app.post<{ Params: { id: string } }>("/v1/runs/:id/reject", approver, async (request) => {
    const body = rejectBody.parse(request.body ?? undefined);
    const run = await waitingRun(deps.store, request.params.id);
    await deps.engine.reject(run.id, request.principal?.name ?? "unknown", body?.reason ?? "rejected");
    return publicRun(await findRun(deps.store, run.id));
  });

  app.post<{ Params: { service: string; stage: string } }>(
    "/v1/services/:service/stages/:stage/rollback",
    developer,
    async (request, reply) => {
      const run = await deps.deliveries.rollback(request.params.service, request.params.stage);
      return reply.code(201).send(publicRun(run));
    },
  );

  app.get<{ Params: { service: string; stage: string } }>(
    "/v1/services/:service/stages/:stage/logs",
    viewer,
    async (request, reply) => {
      const query = logsQuery.parse(request.query);
      const { service, stage } = request.params;
      await deps.deliveries.requireStage(service, stage);
      const text = await deps.readLogs(service, stage, query.stream, query.tail);
      return reply.type("text/plain; charset=utf-8").send(text);
    },
  );

  app.post("/v1/shutdown", admin, async (request, reply) => {
    const body = shutdownBody.parse(request.body ?? undefined);
    await reply.code(202).send({ stopping: true });
    deps.shutdown(body?.stopApps ?? true);
  });

  return { app, routes };
}

async function serviceFor(store: Store, named: string | undefined): Promise<string> {
  const services = await store.listServices();
  if (named !== undefined) {
    if (!services.some((service) => service.name === named))
      throw new NotFoundError(`no service named "${named}"`);
    return named;
  }
  const [only, ...others] = services;
  if (only === undefined) throw new NotFoundError("no service has been shipped yet");
  if (others.length > 0) throw new UserError(`name the service: there are ${services.length} (--service)`);
  return only.name;
}

/** A signature by run id, version or digest (a digest prefix will do), newest first. */
function findSignature(
  records: EvaluationRecord[],
  ref: string,
  stage: string | undefined,
): EvaluationRecord {
  const found = records.find(
    (record) =>
      (stage === undefined || record.stage === stage) &&
      (record.runId === ref ||
        record.version === ref ||
        record.digest === ref ||
        record.digest.startsWith(`sha256:${ref}`)),
  );
  if (found === undefined) {
    throw new NotFoundError(`no performance signature matches "${ref}"${stage ? ` in stage ${stage}` : ""}`);
  }
  return found;
}

async function findRun(store: Store, id: string): Promise<RunRecord> {
  const run = await store.getRun(id);
  if (run === undefined) throw new NotFoundError(`no run with id "${id}"`);
  return run;
}

async function waitingRun(store: Store, id: string): Promise<RunRecord> {
  const run = await findRun(store, id);
  if (run.state !== "waiting-approval") {
    throw new UserError(`run ${id} is ${run.state}, not waiting for approval`, 2, 409);
  }
  return run;
}
