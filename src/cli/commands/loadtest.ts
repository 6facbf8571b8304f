import { UserError } from "../../errors.js";
import { describeProgress, runLoad, type LoadOptions, type LoadResult } from "../../loadgen/index.js";
import { parseDuration } from "../../spec/units.js";

import { argument, defineCommand, option } from "../command.js";
import { printJson } from "../json-output.js";
import { duration, flag, fromText, number, repeatable, text, wholeNumber } from "../options.js";

// The same defaults as an empty `test.load` block in waybill.yaml.
const defaults = { rate: 50, duration: "10s", warmup: "1s", connections: 10, timeout: "5s" } as const;

const httpUrl = fromText("expected an http:// URL, e.g. http://127.0.0.1:8080/", (given) =>
  URL.canParse(given) && new URL(given).protocol === "http:" ? given : undefined,
);

/** `Name: value` */
const header = fromText('expected "Name: value"', (given): [string, string] | undefined => {
  const colon = given.indexOf(":");
  const name = colon === -1 ? "" : given.slice(0, colon).trim();
  return name === "" ? undefined : [name, given.slice(colon + 1).trim()];
});

export const loadtestCommand = defineCommand({
  name: "loadtest",
  args: {
    url: argument(httpUrl, "the http:// URL to load, e.g. http://127.0.0.1:8080/items?page=2"),
  },
  options: {
    rate: option(
      "--rate <n>",
      `requests per second, arriving on schedule (open model; default ${defaults.rate})`,
      number({ above: 0 }).optional(),
    ),
    duration: option(
      "--duration <d>",
      `how long to measure, e.g. 30s (default ${defaults.duration})`,
      duration({ aboveZero: true }).default(parseDuration(defaults.duration)),
    ),
    connections: option(
      "--connections <n>",
      `most connections to open (default ${defaults.connections})`,
      wholeNumber({ min: 1 }).default(defaults.connections),
    ),
    workers: option(
      "--workers <n>",
      "threads generating the load, each with its share of the connections (at most --connections; default 1)",
      wholeNumber({ min: 1 }).default(1),
    ),
    closed: option(
      "--closed",
      "closed model: every connection sends back to back, as fast as answers come",
      flag,
    ),
    warmup: option(
      "--warmup <d>",
      `a lead-in whose requests are left out of the result (default ${defaults.warmup})`,
      duration().default(parseDuration(defaults.warmup)),
    ),
    maxRequests: option(
      "--max-requests <n>",
      "stop after this many requests, warm-up included",
      wholeNumber({ min: 1 }).optional(),
    ),
    method: option(
      "--method <method>",
      "HTTP method (default GET)",
      text.transform((method) => method.toUpperCase()).default("GET"),
    ),
    header: option(
      "--header <header>",
      'a request header "Name: value"; repeat for more',
      repeatable(header),
    ),
    body: option("--body <text>", "request body", text.optional()),
    timeout: option(
      "--timeout <d>",
      `a request unanswered this long counts as an error (default ${defaults.timeout})`,
      duration({ aboveZero: true }).default(parseDuration(defaults.timeout)),
    ),
    json: option("--json", "print the result as JSON", flag),
  },
  helpAfter:
    "\nThe open model measures latency from each request's scheduled time, so waiting behind a\n" +
    "stalled server counts. Errors are failed connections, timeouts and 5xx answers.\n" +
    "The generator runs on a thread of its own and watches its own timing: when it was held up\n" +
    "too long to keep its rate (a busy machine), the result is inconclusive and the exit code 1.",
  async run(args, options, context) {
    const url = new URL(args.url);
    // Not refused by the URL's schema, whose refusal would print the password it was given.
    if (url.username !== "" || url.password !== "") {
      throw new UserError("put credentials in a --header (Authorization: …), not in the URL");
    }
    if (options.closed && options.rate !== undefined) {
      throw new UserError(
        "--rate sets the open model's arrival rate; the closed model (--closed) sends as fast as it can",
      );
    }
    const load: LoadOptions = {
      target: `http://${url.host}`,
      model: options.closed ? "closed" : "open",
      rate: options.rate ?? defaults.rate,
      durationMs: options.duration,
      warmupMs: options.warmup,
      connections: options.connections,
      workers: options.workers,
      maxRequests: options.maxRequests,
      timeoutMs: options.timeout,
      requests: [
        {
          method: options.method,
          path: `${url.pathname}${url.search}`,
          headers: Object.fromEntries(options.header),
          body: options.body,
        },
      ],
    };
    // On a terminal, one line rewritten in place says where the run stands; nothing in a pipe.
    const live = process.stderr.isTTY === true;
    const result = await runLoad(load, (progress) => {
      if (live) context.stderr(`\r\u001b[2K${describeProgress(progress, load)}`);
    });
    if (live) context.stderr("\r\u001b[2K");
    if (options.json) printJson(context, result);
    else context.stdout(summarize(args.url, load, result));
    return result.generator.inconclusive === null ? 0 : 1;
  },
});

function summarize(url: string, load: LoadOptions, result: LoadResult): string {
  const request = load.requests?.[0];
  const pace =
    load.model === "closed"
      ? `closed model, ${load.connections} connections back to back`
      : `open model, ${load.rate} req/s on up to ${load.connections} connections`;
  const errorPercent = result.requests === 0 ? 0 : (100 * result.errors) / result.requests;
  const { p50, p90, p95, p99, max } = result.latency;
  const lines = [
    `${request?.method ?? "GET"} ${url}: ${pace}, ${formatMs(load.durationMs)} measured after ${formatMs(load.warmupMs ?? 0)} warm-up`,
    `requests ${result.requests}  errors ${result.errors} (${errorPercent.toFixed(2)}%)  throughput ${result.throughput.toFixed(1)} req/s`,
    `latency ms  p50 ${p50.toFixed(2)}  p90 ${p90.toFixed(2)}  p95 ${p95.toFixed(2)}  p99 ${p99.toFixed(2)}  max ${max.toFixed(2)}`,
  ];
  const { stalledMs, maxStallMs, inconclusive } = result.generator;
  lines.push(
    inconclusive ?? `generator kept its rate (held up ${stalledMs} ms in all, longest ${maxStallMs} ms)`,
  );
  // Any answer has a latency, so a zero maximum means nothing answered at all.
  if (result.requests > 0 && max === 0)
    lines.push(`nothing answered: is a server listening at ${load.target}?`);
  return `${lines.join("\n")}\n`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
