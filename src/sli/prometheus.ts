/**
 * SLIs from Prometheus: one PromQL instant query per SLI over the HTTP API
 * (`/api/v1/query`, evaluated at the window's end).
 *
 * Placeholders in a query are replaced before it is sent:
 * - `$service`, `$stage`, `$version`: substituted as they are, meant for double-quoted label
 *   matchers such as `{version="$version"}`. A value containing `"`, `\` or a line break could
 *   change the query's meaning, so it is refused rather than escaped.
 * - `$start`, `$end`: the window's bounds in Unix seconds, e.g. for `@ $end`.
 * - `$duration`: the window's length in whole seconds, e.g. `123s`, for range selectors such as
 *   `[$duration]`.
 * Other `$…` text (label_replace's `$1`) is left alone.
 *
 * Each query must come down to exactly one sample, a one-element vector or a scalar; anything
 * else is "no value" with the reason. A failing server, an invalid query or a timeout rejects.
 */
import { UserError, errorMessage } from "../errors.js";
import type { NoValueReporter, SliProvider, SliQueryContext } from "./provider.js";

export interface PrometheusProviderOptions {
  /** The server's base URL, e.g. http://prometheus:9090 or https://example.org/prometheus */
  url: string;
  /** SLI name → PromQL */
  queries: Readonly<Record<string, string>>;
  /** Per query; default 30 s */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** An answer of one sample is tiny; anything near this is many series, which cannot be used. */
const MAX_ANSWER_BYTES = 1024 * 1024;

const PLACEHOLDER = /\$(service|stage|version|start|end|duration)(?![A-Za-z0-9_])/g;

const unixSeconds = (date: Date): string => String(date.getTime() / 1000);

/** The query with its placeholders replaced; throws a UserError for a value that is unsafe to insert. */
export function substitutePlaceholders(query: string, context: SliQueryContext): string {
  const windowMs = context.end.getTime() - context.start.getTime();
  if (!(windowMs >= 0)) {
    throw new UserError(
      `the SLI window ends (${context.end.toISOString()}) before it starts (${context.start.toISOString()})`,
    );
  }
  const values: Record<string, string> = {
    service: context.service,
    stage: context.stage,
    version: context.version,
    start: unixSeconds(context.start),
    end: unixSeconds(context.end),
    duration: `${Math.max(1, Math.round(windowMs / 1000))}s`,
  };
  return query.replace(PLACEHOLDER, (_placeholder, name: string) => {
    const value = values[name] ?? "";
    if (/["\\\r\n]/.test(value)) {
      throw new UserError(
        `cannot put ${name} ${JSON.stringify(value)} into a PromQL query: it contains a double quote, backslash or line break`,
      );
    }
    return value;
  });
}

type Sample = { value: number } | { reason: string };

/** Prometheus writes the special values this way; JavaScript's Number() reads only some of them. */
const NON_FINITE = new Set(["NaN", "+Inf", "-Inf", "Inf"]);

function parseSampleValue(text: unknown): Sample {
  if (typeof text === "string" && NON_FINITE.has(text)) {
    return { reason: `the query's value is ${text}, not a finite number` };
  }
  const value = typeof text === "string" && text.trim() !== "" ? Number(text) : Number.NaN;
  if (!Number.isFinite(value))
    return { reason: `the answer's sample value ${JSON.stringify(text)} is not a number` };
  return { value };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The one sample of a successful query answer (`data` of the API's envelope), or why there is none. */
export function sampleOf(data: unknown): Sample {
  if (!isObject(data)) return { reason: "the answer has no data" };
  const { resultType, result } = data;
  switch (resultType) {
    case "scalar":
      return Array.isArray(result)
        ? parseSampleValue(result[1])
        : { reason: "the scalar answer is malformed" };
    case "vector": {
      if (!Array.isArray(result)) return { reason: "the vector answer is malformed" };
      if (result.length === 0) return { reason: "the query returned no series" };
      if (result.length > 1) {
        return {
          reason: `the query returned ${result.length} series; aggregate them to one, e.g. with sum()`,
        };
      }
      const [series] = result as unknown[];
      return isObject(series) && Array.isArray(series.value)
        ? parseSampleValue(series.value[1])
        : { reason: "the vector answer is malformed" };
    }
    case "matrix":
      return { reason: "the query returned a range vector; use an instant query, e.g. rate(…[$duration])" };
    default:
      return { reason: `the query returned a ${String(resultType)}, not a number` };
  }
}

/** The body as text, or null past `maxBytes`. */
async function readBounded(response: Response, maxBytes: number): Promise<string | null> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined ? errorMessage(error) : `${errorMessage(error)}: ${errorMessage(cause)}`;
}

export function prometheusProvider(options: PrometheusProviderOptions): SliProvider {
  const base = options.url.endsWith("/") ? options.url : `${options.url}/`;
  const endpoint = new URL("api/v1/query", base);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const name = `prometheus ${options.url}`;

  const query = async (
    sli: string,
    promql: string,
    context: SliQueryContext,
    signal: AbortSignal | undefined,
  ): Promise<Sample> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const body = new URLSearchParams({
      query: substitutePlaceholders(promql, context),
      time: unixSeconds(context.end),
      timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s`,
    });
    const about = `the query for SLI "${sli}" to ${name}`;
    let response: Response;
    let text: string | null;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        body,
        signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      });
      text = await readBounded(response, MAX_ANSWER_BYTES);
    } catch (error) {
      if (timeout.aborted) throw new Error(`${about} got no answer within ${timeoutMs / 1000}s`);
      if (signal?.aborted) throw new Error(`${about} was aborted`);
      throw new Error(`${about} failed: ${causeOf(error)}`);
    }
    if (text === null) return { reason: `the answer is larger than ${MAX_ANSWER_BYTES} bytes` };
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      envelope = undefined;
    }
    if (!response.ok || !isObject(envelope) || envelope.status !== "success") {
      const detail = isObject(envelope)
        ? `${String(envelope.errorType)}: ${String(envelope.error)}`
        : JSON.stringify(text.trim().slice(0, 200));
      const message = `${about} failed with HTTP ${response.status} (${detail})`;
      // 400 and 422 are Prometheus' answers to a query it cannot parse or run: the user's to fix.
      throw response.status === 400 || response.status === 422 ? new UserError(message) : new Error(message);
    }
    return sampleOf(envelope.data);
  };

  return {
    name,
    fetch: async (names, context, signal, noValue?: NoValueReporter) => {
      const asked = [...new Set(names)].filter((sli) => Object.hasOwn(options.queries, sli));
      const samples = await Promise.all(
        asked.map(async (sli): Promise<[string, number | null]> => {
          const sample = await query(sli, options.queries[sli] ?? "", context, signal);
          if ("value" in sample) return [sli, sample.value];
          noValue?.(sli, sample.reason);
          return [sli, null];
        }),
      );
      return Object.fromEntries(samples);
    },
  };
}
