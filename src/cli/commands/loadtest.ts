import { UserError } from "../../errors.js";
import { describeProgress, runLoad, type LoadOptions, type LoadResult } from "../../loadgen/index.js";
import { parseDuration } from "../../spec/units.js";

import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";

// The same defaults as an empty `test.load` block in waybill.yaml.
const defaults = { rate: 50, duration: "10s", warmup: "1s", connections: 10, timeout: "5s" } as const;

export const loadtestCommand: CliCommand = {
  name: "loadtest",
  configure: (command) =>
    command
      .argument("<url>", "the http:// URL to load, e.g. http://127.0.0.1:8080/items?page=2")
      .option(
        "--rate <n>",
        `requests per second, arriving on schedule (open model; default ${defaults.rate})`,
      )
      .option("--duration <d>", `how long to measure, e.g. 30s (default ${defaults.duration})`)
      .option("--connections <n>", `most connections to open (default ${defaults.connections})`)
      .option("--closed", "closed model: every connection sends back to back, as fast as answers come")
      .option(
        "--warmup <d>",
        `a lead-in whose requests are left out of the result (default ${defaults.warmup})`,
      )
      .option("--max-requests <n>", "stop after this many requests, warm-up included")
      .option("--method <method>", "HTTP method (default GET)")
      .option("--header <header>", 'a request header "Name: value"; repeat for more', collect, [])
      .option("--body <text>", "request body")
      .option(
        "--timeout <d>",
        `a request unanswered this long counts as an error (default ${defaults.timeout})`,
      )
      .option("--json", "print the result as JSON")
      .addHelpText(
        "after",
        "\nThe open model measures latency from each request's scheduled time, so waiting behind a\n" +
          "stalled server counts. Errors are failed connections, timeouts and 5xx answers.\n" +
          "The generator runs on a thread of its own and watches its own timing: when it was held up\n" +
          "too long to keep its rate (a busy machine), the result is inconclusive and the exit code 1.",
      ),
  async run(args, options, context) {
    const load = loadOptionsFromFlags(args[0], options);
    // On a terminal, one line rewritten in place says where the run stands; nothing in a pipe.
    const live = process.stderr.isTTY === true;
    const result = await runLoad(load, (progress) => {
      if (live) context.stderr(`\r\u001b[2K${describeProgress(progress, load)}`);
    });
    if (live) context.stderr("\r\u001b[2K");
    if (options.json === true) printJson(context, result);
    else context.stdout(summarize(args[0] ?? "", load, result));
    return result.generator.inconclusive === null ? 0 : 1;
  },
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function loadOptionsFromFlags(urlText: string | undefined, options: Record<string, unknown>): LoadOptions {
  if (urlText === undefined || urlText === "")
    throw new UserError("loadtest needs a URL, e.g. http://127.0.0.1:8080/");
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new UserError(`not a URL: ${JSON.stringify(urlText)}`);
  }
  if (url.protocol !== "http:")
    throw new UserError(`only http:// URLs can be loaded, got ${JSON.stringify(urlText)}`);
  if (url.username !== "" || url.password !== "") {
    throw new UserError("put credentials in a --header (Authorization: …), not in the URL");
  }

  const closed = options.closed === true;
  if (closed && options.rate !== undefined) {
    throw new UserError(
      "--rate sets the open model's arrival rate; the closed model (--closed) sends as fast as it can",
    );
  }
  const durationMs = durationFlag(options.duration, "--duration", defaults.duration);
  if (durationMs <= 0) throw new UserError("--duration must be longer than 0");
  const timeoutMs = durationFlag(options.timeout, "--timeout", defaults.timeout);
  if (timeoutMs <= 0) throw new UserError("--timeout must be longer than 0");
  const body = options.body === undefined ? undefined : stringFlag(options.body, "--body");

  return {
    target: `http://${url.host}`,
    model: closed ? "closed" : "open",
    rate: options.rate === undefined ? defaults.rate : numberFlag(options.rate, "--rate", false),
    durationMs,
    warmupMs: durationFlag(options.warmup, "--warmup", defaults.warmup),
    connections:
      options.connections === undefined
        ? defaults.connections
        : numberFlag(options.connections, "--connections", true),
    maxRequests:
      options.maxRequests === undefined ? undefined : numberFlag(options.maxRequests, "--max-requests", true),
    timeoutMs,
    requests: [
      {
        method: options.method === undefined ? "GET" : stringFlag(options.method, "--method").toUpperCase(),
        path: `${url.pathname}${url.search}`,
        headers: headersFlag(options.header),
        body,
      },
    ],
  };
}

function stringFlag(value: unknown, flag: string): string {
  if (typeof value !== "string") throw new UserError(`${flag} needs a value`);
  return value;
}

function durationFlag(value: unknown, flag: string, fallback: string): number {
  const text = value === undefined ? fallback : stringFlag(value, flag);
  try {
    return parseDuration(text);
  } catch {
    throw new UserError(`${flag} ${JSON.stringify(text)}: expected a duration such as 500ms, 10s or 2m`);
  }
}

function numberFlag(value: unknown, flag: string, wholeNumber: boolean): number {
  const text = typeof value === "number" ? String(value) : stringFlag(value, flag);
  const number = Number(text);
  const valid =
    text.trim() !== "" &&
    number > 0 &&
    Number.isFinite(number) &&
    (!wholeNumber || Number.isSafeInteger(number));
  if (!valid)
    throw new UserError(
      `${flag} ${JSON.stringify(text)}: expected a ${wholeNumber ? "whole " : ""}number above 0`,
    );
  return number;
}

function headersFlag(value: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const entry of list) {
    const text = stringFlag(entry, "--header");
    const colon = text.indexOf(":");
    const name = colon === -1 ? "" : text.slice(0, colon).trim();
    if (name === "") throw new UserError(`--header ${JSON.stringify(text)}: expected "Name: value"`);
    headers[name] = text.slice(colon + 1).trim();
  }
  return headers;
}

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
