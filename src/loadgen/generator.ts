/**
 * The built-in load generator.
 *
 * Open model: request i is due at t0 + i/rate whatever the server is doing. Its latency is
 * measured from that scheduled time, not from when a connection was free to send it, so
 * time spent queued behind a stalled server is counted (the coordinated-omission correction
 * of wrk2). With every connection busy, due requests wait in order; none are dropped.
 *
 * Closed model: each connection sends its next request as soon as the previous one is
 * answered, and latency runs from the send. A stall then only delays the few requests in
 * flight, which is why this model hides stalls.
 *
 * Every run ends by itself: nothing is sent after the measured window or maxRequests, and
 * whatever is still unanswered a timeout later is cut off as timed out.
 */
import { UserError } from "../errors.js";
import { HttpConnection, type ConnectionListener, type ServerAddress } from "./connection.js";
import { prepareRequests, seededRandom, weightedPicker, type PreparedRequest } from "./request-mix.js";
import { Tally, type TallyData } from "./tally.js";
import type {
  EndpointResult,
  GeneratorTiming,
  LoadOptions,
  LoadProgress,
  LoadResult,
  LoadSide,
  SideResult,
} from "./types.js";

const defaults = { model: "open", rate: 50, warmupMs: 0, connections: 10, timeoutMs: 5000, seed: 1 } as const;
const HEARTBEAT_MS = 10;
/** A heartbeat later than this counts as a stall; a busy 2-core machine gives a few ms */
const STALL_THRESHOLD_MS = 20;
/** Past these the generator, not the service, would decide the latency and the errors */
const MAX_STALLED_SHARE = 0.05;
/** A short window still allows this much in all, or one hiccup would decide it */
const MIN_STALL_ALLOWANCE_MS = 100;
const MAX_SINGLE_STALL_MS = 250;
/** Slack past the last possible deadline before the run is cut off regardless */
const hardStopGraceMs = 1000;
/** Per side; the paired comparison needs no more, and memory stays bounded on long runs */
export const MAX_SIDE_SAMPLES = 50_000;
const SIDE_ORDER_SEED = 0x51de;

/** `onProgress` hears where the run stands about once a second. */
export async function runLoad(
  options: LoadOptions,
  onProgress?: (progress: LoadProgress) => void,
): Promise<LoadResult> {
  const report =
    onProgress === undefined ? undefined : (part: ShardProgress) => onProgress(mergeProgress([part]));
  return mergeShards(options, [await runShard(options, { index: 0, count: 1 }, report)]);
}

/**
 * Which share of a run one worker takes, of `count` running at once. Open model: arrival i
 * belongs to worker i mod count, at its place in the one schedule, and its latency runs from
 * that scheduled time, so the coordinated-omission correction holds in every worker.
 * Connections, and in the closed model maxRequests, are shared out as evenly as they go.
 */
export interface Shard {
  index: number;
  count: number;
}

/** One worker's share of a run, as plain data; `mergeShards` makes the run's result of them */
export interface ShardData {
  endpoints: TallyData[];
  sides: TallyData[];
  sideEndpoints: TallyData[];
  sideSamples: Array<{ kept: number[]; seen: number }>;
  /** From the start of the measured window to its end or the last measured answer; 0 with nothing measured */
  measuredMs: number;
  stalledMs: number;
  maxStallMs: number;
}

export interface ShardProgress {
  elapsedMs: number;
  sent: number;
  /** Every measured request of the shard so far */
  total: TallyData;
}

/** Runs one worker's share of a run on this thread; a bad option rejects, as a UserError */
export async function runShard(
  options: LoadOptions,
  shard: Shard,
  onProgress?: (progress: ShardProgress) => void,
): Promise<ShardData> {
  return new LoadRun(options, shard, onProgress).start();
}

/** `total` of n among `count`: the first total mod count get one more */
export function shareOf(total: number, shard: Shard): number {
  return Math.floor(total / shard.count) + (shard.index < total % shard.count ? 1 : 0);
}

/** Where the workers of one run stand together: counts add, the p95 is over all their answers */
export function mergeProgress(parts: readonly ShardProgress[]): LoadProgress {
  const total = Tally.fromData(parts.map((part) => part.total));
  const summary = total.summary(0);
  return {
    elapsedMs: Math.max(0, ...parts.map((part) => part.elapsedMs)),
    sent: parts.reduce((sum, part) => sum + part.sent, 0),
    finished: summary.requests,
    errors: summary.errors,
    p95Ms: total.answered === 0 ? null : summary.latency.p95,
  };
}

/**
 * The run's result from its workers' shares. Tallies merge exactly (histograms add bucket by
 * bucket); the measured time is the longest worker's; the generator's timing is its worst
 * worker's, since one late worker is enough to charge its lateness to the service.
 */
export function mergeShards(options: LoadOptions, shards: readonly ShardData[]): LoadResult {
  const sides = options.sides ?? [];
  const requests = prepareRequests(
    options.requests ?? [{ method: "GET", path: "/" }],
    parseTarget(options.target).hostHeader,
    sides,
  );
  const merged = (pick: (shard: ShardData) => TallyData[], index: number) =>
    Tally.fromData(shards.flatMap((shard) => pick(shard)[index] ?? []));
  const measuredMs = Math.max(0, ...shards.map((shard) => shard.measuredMs));
  const measuredSeconds = measuredMs / 1000;
  const endpointCount = new Set(requests.map((request) => request.endpointIndex)).size;
  const endpointTallies = Array.from({ length: endpointCount }, (_, index) =>
    merged((shard) => shard.endpoints, index),
  );
  const endpoints: LoadResult["endpoints"] = {};
  for (const request of requests) {
    const tally = endpointTallies[request.endpointIndex];
    if (tally !== undefined) endpoints[request.endpoint] = tally.summary(measuredSeconds);
  }
  const result: LoadResult = {
    ...Tally.combined(endpointTallies).summary(measuredSeconds),
    endpoints,
    generator: generatorTiming(
      Math.max(0, ...shards.map((shard) => shard.stalledMs)),
      Math.max(0, ...shards.map((shard) => shard.maxStallMs)),
      options.durationMs,
    ),
  };
  if (sides.length > 0) {
    const sideResults: Record<string, SideResult> = {};
    sides.forEach((side, index) => {
      const sideEndpoints: Record<string, EndpointResult> = {};
      for (const request of requests) {
        if (request.sideIndex !== index) continue;
        const tally = merged((shard) => shard.sideEndpoints, index * endpointCount + request.endpointIndex);
        sideEndpoints[request.endpoint] = tally.summary(measuredSeconds);
      }
      sideResults[side.name] = {
        ...merged((shard) => shard.sides, index).summary(measuredSeconds),
        endpoints: sideEndpoints,
        latencySamplesMs: mergeSamples(shards.flatMap((shard) => shard.sideSamples[index] ?? [])),
      };
    });
    result.sides = sideResults;
  }
  return result;
}

/**
 * Several workers' reservoirs as one of at most MAX_SIDE_SAMPLES: each worker's samples in the
 * proportion of the answers it saw, so the result stays a uniform sample of them all.
 */
export function mergeSamples(parts: ReadonlyArray<{ kept: number[]; seen: number }>): number[] {
  if (parts.length === 1) return parts[0]?.kept ?? [];
  const kept = parts.reduce((sum, part) => sum + part.kept.length, 0);
  if (kept <= MAX_SIDE_SAMPLES) return parts.flatMap((part) => part.kept);
  const seen = parts.reduce((sum, part) => sum + part.seen, 0);
  return parts.flatMap((part) => part.kept.slice(0, Math.floor((MAX_SIDE_SAMPLES * part.seen) / seen)));
}

const PROGRESS_EVERY_MS = 1000;

function positiveNumber(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0))
    throw new UserError(`load test: ${name} must be a positive number`);
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!(Number.isSafeInteger(value) && value > 0)) {
    throw new UserError(`load test: ${name} must be a positive whole number`);
  }
  return value;
}

function parseTarget(target: string): { address: ServerAddress; hostHeader: string } {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UserError(`load test: bad target URL ${JSON.stringify(target)}`);
  }
  if (url.protocol !== "http:") {
    throw new UserError(`load test: only http:// targets are supported, got ${JSON.stringify(target)}`);
  }
  if (
    url.pathname !== "/" ||
    url.search !== "" ||
    url.hash !== "" ||
    url.username !== "" ||
    url.password !== ""
  ) {
    throw new UserError(`load test: the target must be just http://host[:port]; put paths in the requests`);
  }
  return {
    // URL keeps the brackets around an IPv6 literal; the socket API wants it bare.
    address: {
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port === "" ? 80 : Number(url.port),
    },
    hostHeader: url.host,
  };
}

/** A request due, waiting in its lane for a free connection */
interface Queued {
  request: PreparedRequest;
  scheduledAt: number;
  deadline: number;
  measured: boolean;
}

interface Lane {
  address: ServerAddress;
  idle: HttpConnection[];
  /** Connections opened for this lane */
  open: number;
  /** Oldest first */
  waiting: Queued[];
}

class LoadRun implements ConnectionListener {
  private readonly model: "open" | "closed";
  private readonly warmupMs: number;
  private readonly durationMs: number;
  private readonly timeoutMs: number;
  /** Connections each lane may open */
  private readonly connectionsPerLane: number;
  private maxRequests: number;
  private readonly intervalMs: number;
  private readonly requests: PreparedRequest[];
  private readonly pickRequest: () => number;
  private readonly sides: readonly LoadSide[];
  /** Shuffles each block's side order, and picks reservoir samples */
  private readonly sideRandom = seededRandom(SIDE_ORDER_SEED);
  private readonly sideOrder: number[];
  private blockPosition = 0;
  /** Requests this worker took on: its own arrivals (open model) or sends (closed) */
  private taken = 0;
  private blockRequest = 0;

  private readonly endpointTallies: Tally[];
  private readonly sideTallies: Tally[];
  /** Per side, per endpoint: index sideIndex · endpoints + endpointIndex */
  private readonly sideEndpointTallies: Tally[];
  private readonly sideSamples: Array<{ kept: number[]; seen: number }>;
  private readonly connections: HttpConnection[] = [];
  /**
   * Open model with sides: a lane per side, each with its own connections and its own queue of
   * due requests, so a side that answers slowly (a regressed version, a trial starved of CPU)
   * holds up only its own requests and never the other side's. Otherwise one lane.
   */
  private readonly lanes: Lane[];
  private readonly laneOf = new Map<HttpConnection, Lane>();
  private busy = 0;

  private startedAt = 0;
  private measureFrom = 0;
  private windowEnd = 0;
  private lastMeasuredSettle = 0;
  /** Requests taken off the schedule into their lane's queue */
  private dispatched = 0;
  /** Open model: how many scheduled requests are due by now, and how many ever will be */
  private due = 0;
  private scheduled = 0;

  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastHeartbeat = 0;
  private stalledMs = 0;
  private maxStallMs = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private hardStopTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private finished = false;
  private resolve: (result: ShardData) => void = () => undefined;

  constructor(
    options: LoadOptions,
    private readonly shard: Shard,
    private readonly onProgress?: (progress: ShardProgress) => void,
  ) {
    this.model = options.model ?? defaults.model;
    if (this.model !== "open" && this.model !== "closed") {
      throw new UserError(`load test: model must be "open" or "closed"`);
    }
    this.sides = options.sides ?? [];
    const sideCount = Math.max(1, this.sides.length);
    const rate = positiveNumber(options.rate ?? defaults.rate, "rate");
    this.intervalMs = 1000 / (rate * sideCount);
    this.durationMs = positiveNumber(options.durationMs, "duration");
    this.warmupMs = options.warmupMs ?? defaults.warmupMs;
    if (!(Number.isFinite(this.warmupMs) && this.warmupMs >= 0)) {
      throw new UserError("load test: warm-up must be zero or a positive number");
    }
    this.timeoutMs = positiveNumber(options.timeoutMs ?? defaults.timeoutMs, "timeout");
    const connections = shareOf(
      positiveInteger(options.connections ?? defaults.connections, "connections"),
      shard,
    );
    const laneCount = this.model === "open" ? sideCount : 1;
    this.connectionsPerLane = this.model === "open" ? connections : connections * sideCount;
    if (this.model !== "open" && this.sides.some((side) => side.target !== undefined)) {
      throw new UserError("load test: a side with a target of its own needs the open model");
    }
    const { address, hostHeader } = parseTarget(options.target);
    this.lanes = Array.from({ length: laneCount }, (_, index) => {
      const own = this.sides[index]?.target;
      return {
        address: own === undefined ? address : parseTarget(own).address,
        idle: [],
        open: 0,
        waiting: [],
      };
    });
    this.maxRequests =
      options.maxRequests === undefined
        ? Infinity
        : positiveInteger(options.maxRequests, "maxRequests") * sideCount;
    // Open-model arrivals are numbered across all workers; closed-model sends are each worker's own.
    if (this.model === "closed" && this.maxRequests !== Infinity) {
      this.maxRequests = shareOf(this.maxRequests, shard);
    }

    const requests = options.requests ?? [{ method: "GET", path: "/" }];
    this.requests = prepareRequests(requests, hostHeader, this.sides);
    this.pickRequest = weightedPicker(
      requests.map((request) => request.weight ?? 1),
      seededRandom(options.seed ?? defaults.seed),
    );
    const endpointCount = new Set(this.requests.map((request) => request.endpointIndex)).size;
    this.endpointTallies = Array.from({ length: endpointCount }, () => new Tally());
    this.sideTallies = this.sides.map(() => new Tally());
    this.sideEndpointTallies = Array.from({ length: this.sides.length * endpointCount }, () => new Tally());
    this.sideSamples = this.sides.map(() => ({ kept: [], seen: 0 }));
    this.sideOrder = this.sides.map((_, index) => index);
  }

  start(): Promise<ShardData> {
    const done = new Promise<ShardData>((resolve) => {
      this.resolve = resolve;
    });
    this.startedAt = performance.now();
    this.measureFrom = this.startedAt + this.warmupMs;
    this.windowEnd = this.measureFrom + this.durationMs;
    this.lastHeartbeat = this.startedAt;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    const sweepEveryMs = Math.min(100, Math.max(5, this.timeoutMs / 4));
    this.sweepTimer = setInterval(() => this.sweepTimedOut(), sweepEveryMs);
    this.hardStopTimer = setTimeout(
      () => this.finish(),
      this.warmupMs + this.durationMs + this.timeoutMs + hardStopGraceMs,
    );
    if (this.onProgress !== undefined) {
      this.progressTimer = setInterval(() => this.reportProgress(), PROGRESS_EVERY_MS);
    }

    if (this.model === "open") {
      // The count of i with i·interval inside the window; the epsilon keeps float error from adding one.
      const inWindow = Math.ceil((this.warmupMs + this.durationMs) / this.intervalMs - 1e-9);
      this.scheduled = Math.min(this.maxRequests, inWindow);
      this.tick();
    } else {
      while (this.mayStartClosedRequest(this.startedAt)) {
        const connection = this.acquire(this.lanes[0] as Lane);
        if (connection === null) break;
        this.sendClosedRequest(connection, this.startedAt);
      }
      this.finishIfDone();
    }
    return done;
  }

  private reportProgress(): void {
    this.onProgress?.({
      elapsedMs: Math.round(performance.now() - this.startedAt),
      sent: this.taken - this.queuedCount(),
      total: Tally.combined(this.endpointTallies).toData(),
    });
  }

  /** Counts the time the event loop held the generator up, while the measured window is open */
  private heartbeat(): void {
    const now = performance.now();
    const late = now - this.lastHeartbeat - HEARTBEAT_MS;
    this.lastHeartbeat = now;
    if (now < this.measureFrom || late <= STALL_THRESHOLD_MS) return;
    this.stalledMs += late;
    this.maxStallMs = Math.max(this.maxStallMs, late);
  }

  answered(connection: HttpConnection, request: PreparedRequest, status: number): void {
    const now = performance.now();
    if (connection.measured) {
      // An answer that took longer than the timeout is a timeout, even if the sweep had not caught it yet.
      if (now > connection.deadline) this.recordFailure(request, now);
      else this.recordAnswer(request, now - connection.origin, status >= 500, now);
    }
    this.release(connection, now);
  }

  failed(connection: HttpConnection, request: PreparedRequest): void {
    const now = performance.now();
    if (connection.measured) this.recordFailure(request, now);
    this.release(connection, now);
  }

  private recordAnswer(
    request: PreparedRequest,
    latencyMs: number,
    isServerError: boolean,
    now: number,
  ): void {
    this.endpointTallies[request.endpointIndex]?.recordAnswer(latencyMs, isServerError);
    this.sideTallies[request.sideIndex]?.recordAnswer(latencyMs, isServerError);
    this.sideEndpointTallyOf(request)?.recordAnswer(latencyMs, isServerError);
    const samples = this.sideSamples[request.sideIndex];
    if (samples !== undefined) {
      samples.seen++;
      if (samples.kept.length < MAX_SIDE_SAMPLES) samples.kept.push(latencyMs);
      else {
        const slot = Math.floor(this.sideRandom() * samples.seen);
        if (slot < MAX_SIDE_SAMPLES) samples.kept[slot] = latencyMs;
      }
    }
    this.lastMeasuredSettle = now;
  }

  private recordFailure(request: PreparedRequest, now: number): void {
    this.endpointTallies[request.endpointIndex]?.recordFailure();
    this.sideTallies[request.sideIndex]?.recordFailure();
    this.sideEndpointTallyOf(request)?.recordFailure();
    this.lastMeasuredSettle = now;
  }

  private sideEndpointTallyOf(request: PreparedRequest): Tally | undefined {
    if (this.sides.length === 0) return undefined;
    return this.sideEndpointTallies[request.sideIndex * this.endpointTallies.length + request.endpointIndex];
  }

  /** A free connection of the lane, opening a new one while under its limit; null when all are busy */
  private acquire(lane: Lane): HttpConnection | null {
    let connection = lane.idle.pop();
    if (connection === undefined) {
      if (lane.open >= this.connectionsPerLane) return null;
      connection = new HttpConnection(lane.address, this);
      lane.open++;
      this.connections.push(connection);
      this.laneOf.set(connection, lane);
    }
    this.busy++;
    return connection;
  }

  private release(connection: HttpConnection, now: number): void {
    this.busy--;
    if (this.finished) return;
    const lane = this.laneOf.get(connection) as Lane;
    if (this.model === "open") {
      lane.idle.push(connection);
      this.dispatchDue(now);
    } else if (this.mayStartClosedRequest(now)) {
      this.busy++;
      this.sendClosedRequest(connection, now);
    } else {
      lane.idle.push(connection);
    }
    this.finishIfDone();
  }

  private queuedCount(): number {
    return this.lanes.reduce((sum, lane) => sum + lane.waiting.length, 0);
  }

  /** Open model: work out how many requests are due, send what the connections allow, wake for the next */
  private tick(): void {
    this.tickTimer = undefined;
    const now = performance.now();
    const dueByNow = Math.floor((now - this.startedAt) / this.intervalMs) + 1;
    this.due = Math.max(this.due, Math.min(this.scheduled, dueByNow));
    const nextOwn = this.nextOwnArrival(this.due);
    // Nothing of this worker's is left: the rest of the schedule is the other workers'.
    if (nextOwn >= this.scheduled) this.due = this.scheduled;
    this.dispatchDue(now);
    if (this.due < this.scheduled) {
      const nextDueAt = this.startedAt + nextOwn * this.intervalMs;
      this.tickTimer = setTimeout(() => this.tick(), Math.max(0, nextDueAt - performance.now()));
    }
    this.finishIfDone();
  }

  /** The first arrival numbered `from` or later that is this worker's */
  private nextOwnArrival(from: number): number {
    const { index, count } = this.shard;
    return from + ((((index - from) % count) + count) % count);
  }

  private isOwnArrival(arrival: number): boolean {
    return arrival % this.shard.count === this.shard.index;
  }

  /** Moves what is due into its lane's queue, in schedule order, then sends what each lane can. */
  private dispatchDue(now: number): void {
    while (this.dispatched < this.due) {
      const arrival = this.dispatched++;
      // Every worker draws the whole mix, so arrival i gets the same request however many share the run.
      const request = this.nextRequest();
      if (!this.isOwnArrival(arrival)) continue;
      this.taken++;
      const scheduledAt = this.startedAt + arrival * this.intervalMs;
      const lane = this.lanes[this.lanes.length === 1 ? 0 : request.sideIndex] as Lane;
      lane.waiting.push({
        request,
        scheduledAt,
        deadline: scheduledAt + this.timeoutMs,
        measured: scheduledAt >= this.measureFrom,
      });
    }
    for (const lane of this.lanes) this.sendQueued(lane, now);
  }

  private sendQueued(lane: Lane, now: number): void {
    let next = lane.waiting[0];
    while (next !== undefined) {
      if (now > next.deadline) {
        // It waited in the queue past its timeout; a real client would have given up already.
        lane.waiting.shift();
        if (next.measured) this.recordFailure(next.request, now);
      } else {
        const connection = this.acquire(lane);
        if (connection === null) return;
        lane.waiting.shift();
        connection.send(next.request, next.scheduledAt, next.deadline, next.measured);
      }
      next = lane.waiting[0];
    }
  }

  private mayStartClosedRequest(now: number): boolean {
    return now < this.windowEnd && this.dispatched < this.maxRequests;
  }

  private sendClosedRequest(connection: HttpConnection, now: number): void {
    this.dispatched++;
    this.taken++;
    connection.send(this.nextRequest(), now, now + this.timeoutMs, now >= this.measureFrom);
  }

  private nextRequest(): PreparedRequest {
    if (this.sides.length === 0) return this.requests[this.pickRequest()] as PreparedRequest;
    if (this.blockPosition === 0) {
      this.blockRequest = this.pickRequest();
      shuffleInPlace(this.sideOrder, this.sideRandom);
    }
    const side = this.sideOrder[this.blockPosition] ?? 0;
    this.blockPosition = (this.blockPosition + 1) % this.sides.length;
    return this.requests[this.blockRequest * this.sides.length + side] as PreparedRequest;
  }

  private sweepTimedOut(): void {
    const now = performance.now();
    for (const connection of this.connections) {
      const request = connection.request;
      if (request === null || now <= connection.deadline) continue;
      connection.abandon();
      this.failed(connection, request);
    }
  }

  private finishIfDone(): void {
    if (this.busy > 0 || this.finished) return;
    const nothingLeftToSend =
      this.model === "open"
        ? this.dispatched >= this.scheduled && this.queuedCount() === 0
        : !this.mayStartClosedRequest(performance.now());
    if (nothingLeftToSend) this.finish();
  }

  /** Ends the run; anything still queued or in flight (only at the hard stop) counts as timed out */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.heartbeat();
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.tickTimer);
    clearInterval(this.sweepTimer);
    clearTimeout(this.hardStopTimer);
    clearInterval(this.progressTimer);
    const now = performance.now();
    for (const connection of this.connections) {
      const request = connection.request;
      if (request !== null && connection.measured) this.recordFailure(request, now);
      connection.abandon();
    }
    if (this.model === "open") {
      for (const lane of this.lanes) {
        for (const queued of lane.waiting.splice(0)) {
          if (queued.measured) this.recordFailure(queued.request, now);
        }
      }
      for (; this.dispatched < this.scheduled; this.dispatched++) {
        const scheduledAt = this.startedAt + this.dispatched * this.intervalMs;
        const request = this.nextRequest();
        if (this.isOwnArrival(this.dispatched) && scheduledAt >= this.measureFrom) {
          this.recordFailure(request, now);
        }
      }
    }
    this.resolve(this.result());
  }

  private result(): ShardData {
    // A run cut short by maxRequests is measured to its last answer; otherwise over the whole window,
    // so that a low rate is not overstated by the idle gap after the last request.
    const stoppedByMaxRequests = this.dispatched >= this.maxRequests;
    const measuredUntil = stoppedByMaxRequests
      ? this.lastMeasuredSettle
      : Math.max(this.windowEnd, this.lastMeasuredSettle);
    const anyMeasured = this.endpointTallies.some((tally) => tally.requests > 0);
    return {
      endpoints: this.endpointTallies.map((tally) => tally.toData()),
      sides: this.sideTallies.map((tally) => tally.toData()),
      sideEndpoints: this.sideEndpointTallies.map((tally) => tally.toData()),
      sideSamples: this.sideSamples,
      measuredMs: anyMeasured ? measuredUntil - this.measureFrom : 0,
      stalledMs: this.stalledMs,
      maxStallMs: this.maxStallMs,
    };
  }
}

/** Fisher-Yates */
function shuffleInPlace(values: number[], random: () => number): void {
  for (let index = values.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    const held = values[index] as number;
    values[index] = values[other] as number;
    values[other] = held;
  }
}

/** The verdict on the generator's own timing (pure, so its bounds are tested with vectors). */
export function generatorTiming(stalledMs: number, maxStallMs: number, windowMs: number): GeneratorTiming {
  const figures = `held up ${Math.round(stalledMs)} ms of the ${Math.round(windowMs)} ms window, longest ${Math.round(maxStallMs)} ms`;
  const inconclusive =
    stalledMs > Math.max(MAX_STALLED_SHARE * windowMs, MIN_STALL_ALLOWANCE_MS) ||
    maxStallMs > MAX_SINGLE_STALL_MS
      ? `inconclusive: the load generator could not keep its rate (${figures}); re-run when the machine is less busy, or lower test.load.rate`
      : null;
  return { stalledMs: Math.round(stalledMs), maxStallMs: Math.round(maxStallMs), inconclusive };
}
