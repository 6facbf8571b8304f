/**
 * The HTTP API. Every route names the least role that may call it; a missing or wrong token
 * gets 401, too small a role 403. Request bodies are parsed once, here, into types.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { ConflictError, NotFoundError, UserError, errorMessage } from "../errors.js";
import { PROBLEM_CONTENT_TYPE, kindOfStatus, problem, type Problem } from "../api/problem.js";
import { SpecError } from "../spec/load.js";
import type { Engine } from "../engine/engine.js";
import { stageStatus } from "../engine/status.js";
import { diffSignatures } from "../gate/signature-diff.js";
import type { ArtifactRecord, EvaluationRecord, RunRecord, Store } from "../store/store.js";
import { decodePayload, parseEnvelope } from "../evidence/attestation/dsse.js";
import { formatBundle } from "../evidence/attestation/bundle.js";
import { PREDICATE_TYPES } from "../evidence/attestation/predicate-types.js";
import {
  parseMinimumEnvironment,
  type MinimumEnvironmentPredicate,
} from "../evidence/attestation/minimum-environment.js";
import { describeSubjects, parseStatement } from "../evidence/attestation/statement.js";
import { importAdvisories } from "../evidence/vulns/import.js";
import type { EvidenceService } from "../evidence/evidence-service.js";
import type { Recall } from "../engine/recall.js";
import { versionLabelSchema } from "../spec/version-label.js";
import { durationSchema } from "../spec/schema.js";
import { parseDuration } from "../spec/units.js";
import { newEvent } from "../store/events.js";
import type { StoredEvent } from "../store/events.js";
import { allows, type Principal, type Role, type TokenRegistry } from "./auth.js";
import type { Deliveries } from "../engine/deliveries.js";
import {
  EVERY_SERVICE,
  PolicyForbiddenError,
  policyChangeSchema,
  type Actor,
  type StagePolicies,
} from "../engine/policies.js";

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
  evidence: EvidenceService;
  recall: Recall;
  engine: Engine;
  deliveries: Deliveries;
  policies: StagePolicies;
  /** Where OSV advisories are read from into the store */
  advisoriesDir: string;
  tokens: TokenRegistry;
  stageUrl(service: string, stage: string): string | undefined;
  readLogs(service: string, stage: string, stream: "stdout" | "stderr", tailBytes: number): Promise<string>;
  shutdown(stopApps: boolean): void;
}

const buildFacts = z.strictObject({
  command: z.string(),
  internalParameters: z.record(z.string(), z.unknown()).optional(),
  source: z.strictObject({
    repository: z.string().min(1),
    ref: z.string().optional(),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    dirty: z.boolean(),
    signedCommit: z.boolean(),
  }),
  lockfiles: z.array(z.strictObject({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
  startedOn: z.string(),
  finishedOn: z.string(),
});
const shipBody = z
  .strictObject({
    spec: z.unknown(),
    serviceDir: z.string().min(1),
    artifactDir: z.string().min(1).optional(),
    image: z.string().min(1).optional(),
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    version: versionLabelSchema,
    build: buildFacts.optional(),
  })
  .refine((body) => (body.artifactDir === undefined) !== (body.image === undefined), {
    message: "give artifactDir (a folder, for local targets) or image (for Kubernetes targets), exactly one",
  });
const envelopeBody = z.strictObject({
  envelope: z.strictObject({
    payloadType: z.string(),
    payload: z.string(),
    signatures: z.array(z.strictObject({ keyid: z.string().optional(), sig: z.string() })).min(1),
  }),
});
const rejectBody = z
  .strictObject({
    reason: z
      .string()
      .max(2000)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, {
        message: "a reason is one line of text, without control characters",
      })
      .optional(),
  })
  .optional();
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
const policyParams = z.strictObject({
  service: z.union([z.literal("*"), z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/)]),
  stage: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: "a stage name is a DNS label" }),
});
const rightsizeBody = z.strictObject({
  maxSteps: z.number().int().min(1).max(40).optional(),
  maxDuration: durationSchema.optional(),
});
const shutdownBody = z.strictObject({ stopApps: z.boolean().default(true) }).optional();

function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

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

/**
 * What a queued run waits for: the run its stage is busy with, else the one queued before it.
 * The CLI names it, with how to decide it when it waits for a person.
 */
export function blockerOf(
  run: RunRecord,
  open: RunRecord[],
): { waitingFor?: { id: string; state: string; version: string } } {
  if (run.state !== "queued") return {};
  // Open runs come oldest first: the ones before this run in the list were queued before it.
  const before = open.slice(
    0,
    open.findIndex((other) => other.id === run.id),
  );
  const sameStage = before.filter((other) => other.service === run.service && other.stage === run.stage);
  const blocker = sameStage.find((other) => other.state !== "queued") ?? sameStage.at(-1);
  return blocker === undefined
    ? {}
    : { waitingFor: { id: blocker.id, state: blocker.state, version: blocker.version } };
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
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
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
      return sendProblem(
        reply.header("www-authenticate", 'Bearer realm="waybill"'),
        problem("unauthorized", "a valid bearer token is required (see <state>/token)"),
      );
    }
    const required = request.routeOptions.config.role ?? "admin";
    if (!allows(principal.role, required)) {
      return sendProblem(
        reply,
        problem("forbidden", `this needs the ${required} role; your token has ${principal.role}`),
      );
    }
    request.principal = principal;
  });

  app.setErrorHandler(async (error, request, reply) => {
    if ((error as { code?: string }).code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      await drainBody(request.raw);
      return sendProblem(
        reply,
        problem(
          "too-large",
          `the request body is larger than the API takes (${BODY_LIMIT_BYTES / 1_048_576} MiB)`,
        ),
      );
    }
    if (error instanceof PolicyForbiddenError) {
      return sendProblem(reply, problem("policy-weakened", error.message, { weakened: error.weakenings }));
    }
    if (error instanceof SpecError) {
      return sendProblem(reply, problem("bad-request", error.message, { issues: error.issues }));
    }
    if (error instanceof UserError) {
      return sendProblem(reply, problem(kindOfStatus(error.httpStatus), error.message));
    }
    if (error instanceof z.ZodError) {
      const detail = error.issues
        .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
        .join("; ");
      return sendProblem(reply, problem("bad-request", `bad request: ${detail}`));
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendProblem(reply, { ...problem(kindOfStatus(status), errorMessage(error)), status });
    }
    process.stderr.write(`waybill api: ${errorMessage(error)}\n`);
    return sendProblem(reply, problem("internal", "internal error; see the control plane's log"));
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problem("not-found", `there is no ${request.method} ${request.url.split("?")[0] ?? ""} in this API`),
    ),
  );

  const viewer = { config: { role: "viewer" as Role } };
  const developer = { config: { role: "developer" as Role } };
  const approver = { config: { role: "approver" as Role } };
  const admin = { config: { role: "admin" as Role } };

  app.get("/v1/health", viewer, async () => ({ ok: true, pid: process.pid }));

  app.get("/v1/whoami", viewer, async (request) => ({
    name: request.principal?.name ?? "unknown",
    role: request.principal?.role ?? "viewer",
  }));

  app.post("/v1/ships", developer, async (request, reply) => {
    const body = shipBody.parse(request.body);
    const ship = await deps.deliveries.ship(body, actorOf(request));
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

  const liveOf = (run: RunRecord): { progress?: string } => {
    const progress = run.state === "running" ? deps.engine.liveProgress(run.id) : undefined;
    return progress === undefined ? {} : { progress };
  };

  app.get("/v1/runs", viewer, async (request) => {
    const query = runsQuery.parse(request.query);
    const runs = await deps.store.listRuns({
      ...(query.service === undefined ? {} : { service: query.service }),
      ...(query.ship === undefined ? {} : { shipId: query.ship }),
      limit: query.limit ?? 200,
    });
    // What queued runs wait behind costs one more query, only when the page has one.
    const open = runs.some((run) => run.state === "queued")
      ? await deps.store.listRuns({ states: ["queued", "running", "waiting-approval", "rolling-back"] })
      : [];
    return { runs: runs.map((run) => ({ ...publicRun(run), ...blockerOf(run, open), ...liveOf(run) })) };
  });

  app.get<{ Params: { id: string } }>("/v1/runs/:id", viewer, async (request) => {
    const run = await findRun(deps.store, request.params.id);
    const events = await deps.store.events({ run: run.id });
    const evaluation = (await deps.store.evaluations(run.service, run.stage)).find((e) => e.runId === run.id);
    return {
      ...publicRun(run),
      ...liveOf(run),
      evaluation: evaluation ?? null,
      events: events.map(publicEvent),
    };
  });

  app.post("/v1/attestations", developer, async (request, reply) => {
    const { envelope } = envelopeBody.parse(request.body);
    const statement = parseStatement(decodePayload(parseEnvelope(envelope)));
    const recorded = [];
    for (const subject of statement.subject) {
      const digest = `sha256:${subject.digest.sha256 ?? ""}`;
      for (const artifact of await deps.store.artifactsByDigest(digest)) {
        await deps.store.append([
          newEvent("attestation.recorded", `artifacts/${digest}/attestations`, {
            service: artifact.service,
            digest,
            predicateType: statement.predicateType,
            stage: null,
            envelope,
          }),
        ]);
        const verdict = deps.evidence.verify(envelope, statement.predicateType, digest);
        recorded.push({ service: artifact.service, digest, valid: verdict.valid, reason: verdict.reason });
      }
    }
    if (recorded.length === 0) {
      throw new NotFoundError(
        `no artifact is recorded for the subject(s): ${describeSubjects(statement).join(", ")}`,
      );
    }
    return reply.code(201).send({ predicateType: statement.predicateType, recorded });
  });

  app.get<{ Params: { ref: string } }>("/v1/evidence/:ref", viewer, async (request, reply) => {
    const { format } = z
      .strictObject({ format: z.enum(["json", "bundle"]).default("json") })
      .parse(request.query);
    const artifact = await findArtifact(deps.store, request.params.ref);
    const attestations = await deps.store.attestations(artifact.digest);
    if (format === "bundle") {
      return reply.type("application/jsonl").send(formatBundle(attestations.map((a) => a.envelope)));
    }
    return {
      artifact: { service: artifact.service, version: artifact.version, digest: artifact.digest },
      attestations: attestations.map((attestation) => {
        const verdict = deps.evidence.verify(
          attestation.envelope,
          attestation.predicateType,
          artifact.digest,
        );
        return {
          predicateType: attestation.predicateType,
          stage: attestation.stage,
          recordedAt: attestation.recordedAt,
          valid: verdict.valid,
          reason: verdict.reason,
          signedBy: verdict.acceptedBy,
          ...summaryOf(attestation.predicateType, verdict.statement?.predicate),
        };
      }),
      deployments: (await deps.store.releasesOf(artifact.digest)).map((release) => ({
        service: release.service,
        stage: release.stage,
        target: release.target,
        from: release.releasedAt,
        until: release.replacedAt,
      })),
    };
  });

  app.get("/v1/recall", viewer, async (request) => {
    const { q } = z.strictObject({ q: z.string().min(1) }).parse(request.query);
    return deps.recall.find(q);
  });

  app.get("/v1/advisories", viewer, async () => ({
    ...(await deps.store.coverage()),
    source: deps.advisoriesDir,
  }));

  app.post("/v1/advisories/import", admin, async () => {
    const imported = await importAdvisories(deps.store, deps.advisoriesDir);
    return { imported, ...(await deps.store.coverage()), source: deps.advisoriesDir };
  });

  app.get("/v1/drift", viewer, async () => ({ drift: await deps.recall.allDrift() }));

  app.post("/v1/recall/redeploy", developer, async (request, reply) => {
    const body = z.strictObject({ q: z.string().min(1), version: versionLabelSchema }).parse(request.body);
    const runs = await deps.recall.redeploy(body.q, body.version);
    return reply.code(201).send({ runs: runs.map(publicRun) });
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
    const stage = query.stage ?? sharedStage(records, query.a, query.b);
    const a = findSignature(records, query.a, stage);
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

  app.post<{ Params: { service: string; stage: string } }>(
    "/v1/services/:service/stages/:stage/rightsize",
    developer,
    async (request, reply) => {
      const body = rightsizeBody.parse(request.body ?? {});
      const run = await deps.deliveries.rightsize(request.params.service, request.params.stage, {
        ...(body.maxSteps === undefined ? {} : { maxSteps: body.maxSteps }),
        ...(body.maxDuration === undefined ? {} : { maxDurationMs: parseDuration(body.maxDuration) }),
      });
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

  app.get("/v1/policies", viewer, async (request) => {
    const { service } = z.strictObject({ service: z.string().min(1).optional() }).parse(request.query);
    if (service !== undefined && service !== EVERY_SERVICE) await serviceFor(deps.store, service);
    return { policies: await deps.policies.list(service) };
  });

  app.get<{ Params: { service: string; stage: string } }>(
    "/v1/policies/:service/:stage",
    viewer,
    async (request) => {
      const { service, stage } = request.params;
      const inForce = (await deps.policies.list(service)).find((policy) => policy.stage === stage);
      const history = await deps.policies.history(service, stage);
      if (inForce === undefined && history.length === 0) {
        throw new NotFoundError(`no policy is kept for ${service}/${stage}`);
      }
      return { current: inForce ?? null, history };
    },
  );

  app.put<{ Params: { service: string; stage: string } }>(
    "/v1/policies/:service/:stage",
    admin,
    async (request) => {
      const { service, stage } = policyParams.parse(request.params);
      const requested = policyChangeSchema.parse(request.body ?? {});
      if (service !== EVERY_SERVICE) await serviceFor(deps.store, service);
      const event = await deps.policies.change(service, stage, requested, actorOf(request));
      if (event !== undefined) await deps.store.append([event]);
      const [current] = await deps.policies.history(service, stage);
      return { changed: event !== undefined, current: current ?? null };
    },
  );

  app.post("/v1/shutdown", admin, async (request, reply) => {
    const body = shutdownBody.parse(request.body ?? undefined);
    await reply.code(202).send({ stopping: true });
    deps.shutdown(body?.stopApps ?? true);
  });

  return { app, routes };
}

const BODY_LIMIT_BYTES = 1_048_576;
const DRAIN_LIMIT_BYTES = 64 * 1_048_576;
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Reads and discards what is left of a refused body, so the client gets to read the 413
 * instead of a reset connection; bounded in bytes and time, past which the connection goes.
 */
function drainBody(body: IncomingMessage): Promise<void> {
  if (body.readableEnded || body.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let drained = 0;
    const done = () => {
      clearTimeout(timer);
      body.off("data", count);
      resolve();
    };
    const count = (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_LIMIT_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    body.on("data", count);
    body.once("end", done);
    body.once("error", done);
    body.once("close", done);
    body.resume();
  });
}

/** Only an admin may ship a spec that weakens a stage's protected policy. */
function actorOf(request: FastifyRequest): Actor {
  const principal = request.principal;
  return {
    name: principal?.name ?? "unknown",
    mayChangePolicy: principal !== undefined && allows(principal.role, "admin"),
  };
}

const MIN_DIGEST_PREFIX = 7;

/** An artifact by `service@version`, or by `sha256:…` digest (a prefix of 7 or more hex digits will do). */
async function findArtifact(store: Store, ref: string): Promise<ArtifactRecord> {
  const at = ref.lastIndexOf("@");
  if (!ref.startsWith("sha256:") && at > 0) {
    const found = await store.artifactByVersion(ref.slice(0, at), ref.slice(at + 1));
    if (found === undefined) throw new NotFoundError(`no artifact ${ref}`);
    return found;
  }
  const hex = ref.startsWith("sha256:") ? ref.slice("sha256:".length) : ref;
  if (!new RegExp(`^[0-9a-f]{${MIN_DIGEST_PREFIX},64}$`).test(hex)) {
    throw new UserError(
      `"${ref}" names no artifact: give service@version, or sha256: followed by ${MIN_DIGEST_PREFIX} to 64 lowercase hex digits`,
    );
  }
  const digests = await store.digestsWithPrefix(`sha256:${hex}`);
  if (digests.length > 1) {
    throw new ConflictError(
      `"${ref}" matches ${digests.length} artifacts (${digests.map((d) => d.slice(0, 19)).join(", ")}): give more digits`,
    );
  }
  const [digest] = digests;
  const [artifact] = digest === undefined ? [] : await store.artifactsByDigest(digest);
  if (artifact === undefined) {
    throw new NotFoundError(`no artifact matches "${ref}" (give sha256:<digest> or service@version)`);
  }
  return artifact;
}

/** A line of what a predicate says, so a person sees the evidence without decoding it. */
function summaryOf(predicateType: string, predicate: unknown): { summary?: string } {
  const body = predicate as Record<string, unknown> | undefined;
  if (body === undefined) return {};
  if (predicateType === PREDICATE_TYPES.sbom) {
    const components = (body.components as unknown[] | undefined) ?? [];
    return { summary: `${components.length} components` };
  }
  if (predicateType === PREDICATE_TYPES.vulns) {
    const results = ((body.scanner as { result?: unknown[] } | undefined)?.result ?? []).length;
    return { summary: `${results} vulnerabilit${results === 1 ? "y" : "ies"}` };
  }
  if (predicateType === PREDICATE_TYPES["slo-evaluation"]) {
    return { summary: `${String(body.result)} with score ${String(body.score)} in ${String(body.stage)}` };
  }
  if (predicateType === PREDICATE_TYPES["test-result"]) return { summary: String(body.result) };
  if (predicateType === PREDICATE_TYPES["minimum-environment"]) {
    const report = parseMinimumEnvironment(predicate);
    return report === null ? {} : { summary: minimumEnvironmentSummary(report) };
  }
  return {};
}

function minimumEnvironmentSummary(report: MinimumEnvironmentPredicate): string {
  const parts: string[] = [];
  if (report.sizing !== null) {
    const { recommended, provenMinimum, steps } = report.sizing;
    parts.push(
      `recommends cpu ${recommended.cpu}, memory ${recommended.memory} (proven minimum cpu ${provenMinimum.cpu}, memory ${provenMinimum.memory}; ${steps.length} steps)`,
    );
  }
  const limits = report.runtimeLimits;
  if (limits !== null) {
    parts.push(
      "unobservable" in limits
        ? `runtime limits not checked: ${limits.unobservable}`
        : limits.mismatches.length === 0
          ? `the ${limits.runtime} runtime sees its limits`
          : `runtime limits mismatch: ${limits.mismatches.join("; ")}`,
    );
  }
  const dependencies = report.dependencies;
  if (dependencies !== null && dependencies.recorded) {
    parts.push(
      `${dependencies.neverLoaded.length} declared package(s) never loaded under the test load (${dependencies.shareOfArtifactPct}% of the artifact)`,
    );
  }
  return `${parts.join("; ")} in ${report.stage}`;
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
/** A signature is named by its run id, its version, its digest, or a digest prefix. */
function signatureMatches(record: EvaluationRecord, ref: string): boolean {
  return (
    record.runId === ref ||
    record.version === ref ||
    record.digest === ref ||
    record.digest.startsWith(`sha256:${ref}`)
  );
}

/** The newest stage where both builds were evaluated, so `signature diff A B` needs no --stage. */
function sharedStage(records: EvaluationRecord[], a: string, b: string): string | undefined {
  const stagesOfA = new Set(
    records.filter((record) => signatureMatches(record, a)).map((record) => record.stage),
  );
  return records.find((record) => signatureMatches(record, b) && stagesOfA.has(record.stage))?.stage;
}

function findSignature(
  records: EvaluationRecord[],
  ref: string,
  stage: string | undefined,
): EvaluationRecord {
  const found = records.find(
    (record) => (stage === undefined || record.stage === stage) && signatureMatches(record, ref),
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
