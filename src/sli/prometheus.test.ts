import { test } from "node:test";
import assert from "node:assert/strict";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { UserError } from "../errors.js";
import { collectSlis, type SliQueryContext } from "./provider.js";
import { prometheusProvider, sampleOf, substitutePlaceholders } from "./prometheus.js";

const context: SliQueryContext = {
  service: "shop",
  stage: "prod",
  version: "1.4.2",
  start: new Date(1_767_348_000_000),
  end: new Date(1_767_348_123_500),
};

test("placeholders become the window's values; other $ text stays", () => {
  assert.equal(
    substitutePlaceholders(
      'sum(increase(http_requests_total{service="$service",stage="$stage",version="$version"}[$duration] @ $end))' +
        ' / $start + label_replace(up, "x", "$1", "job", "(.*)") + $stages + $durations',
      context,
    ),
    'sum(increase(http_requests_total{service="shop",stage="prod",version="1.4.2"}[124s] @ 1767348123.5))' +
      ' / 1767348000 + label_replace(up, "x", "$1", "job", "(.*)") + $stages + $durations',
  );
  assert.equal(substitutePlaceholders("up[$duration]", { ...context, end: context.start }), "up[1s]");
});

test("values that could break out of a quoted label are refused, as is a window that ends before it starts", () => {
  for (const version of ['1.0"} or vector(1) #', "1.0\\", "1.0\nx"]) {
    assert.throws(
      () => substitutePlaceholders('up{version="$version"}', { ...context, version }),
      (error: unknown) => error instanceof UserError && /cannot put version/.test(error.message),
    );
  }
  assert.equal(
    substitutePlaceholders("up", { ...context, version: '"' }),
    "up",
    "only placeholders in use count",
  );
  assert.throws(
    () => substitutePlaceholders("up", { ...context, start: context.end, end: context.start }),
    /ends/,
  );
});

test("exactly one sample is a value; anything else is no value, with the reason", () => {
  const cases: Array<[unknown, number | RegExp]> = [
    [{ resultType: "scalar", result: [1767348123.5, "42.5"] }, 42.5],
    [{ resultType: "vector", result: [{ metric: {}, value: [1767348123.5, "0.25"] }] }, 0.25],
    [{ resultType: "vector", result: [{ metric: {}, value: [1767348123.5, "-1e-3"] }] }, -0.001],
    [{ resultType: "vector", result: [] }, /returned no series/],
    [
      {
        resultType: "vector",
        result: [
          { metric: {}, value: [1, "1"] },
          { metric: {}, value: [1, "2"] },
        ],
      },
      /returned 2 series; aggregate them to one/,
    ],
    [{ resultType: "vector", result: [{ metric: {}, value: [1, "NaN"] }] }, /value is NaN/],
    [{ resultType: "scalar", result: [1, "+Inf"] }, /value is \+Inf/],
    [{ resultType: "scalar", result: [1, "twelve"] }, /"twelve" is not a number/],
    [{ resultType: "matrix", result: [] }, /range vector/],
    [{ resultType: "string", result: [1, "hello"] }, /returned a string/],
    [{ resultType: "vector", result: [{ metric: {} }] }, /malformed/],
    [null, /no data/],
  ];
  for (const [data, expected] of cases) {
    const sample = sampleOf(data);
    if (typeof expected === "number") assert.deepEqual(sample, { value: expected }, JSON.stringify(data));
    else assert.match("reason" in sample ? sample.reason : "a value", expected, JSON.stringify(data));
  }
});

type Handler = (request: IncomingMessage, body: URLSearchParams, response: ServerResponse) => void;

/** A stand-in Prometheus on a loopback port, answering with `handler`. */
async function fakePrometheus(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => handler(request, new URLSearchParams(text), response));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/prefix`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const json = (response: ServerResponse, status: number, body: unknown): void => {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
};

test("queries the HTTP API at the window's end, one query per known SLI", async () => {
  const seen: Array<{
    path: string | undefined;
    method: string | undefined;
    query: string | null;
    time: string | null;
  }> = [];
  const prometheus = await fakePrometheus((request, body, response) => {
    seen.push({
      path: request.url,
      method: request.method,
      query: body.get("query"),
      time: body.get("time"),
    });
    const query = body.get("query") ?? "";
    if (query.startsWith("count")) {
      json(response, 200, {
        status: "success",
        data: {
          resultType: "vector",
          result: [
            { metric: { instance: "a" }, value: [1, "1"] },
            { metric: { instance: "b" }, value: [1, "1"] },
          ],
        },
      });
    } else {
      json(response, 200, {
        status: "success",
        data: { resultType: "vector", result: [{ metric: {}, value: [1, "17"] }] },
      });
    }
  });
  try {
    const provider = prometheusProvider({
      url: prometheus.url,
      queries: { requests: 'sum(requests{version="$version"})', per_instance: "count by (instance) (up)" },
    });
    assert.equal(provider.name, `prometheus ${prometheus.url}`);
    const collected = await collectSlis([provider], context, ["requests", "per_instance", "unknown"]);
    assert.deepEqual(collected.values, { requests: 17, per_instance: null, unknown: null });
    assert.match(collected.reasons.per_instance ?? "", /^prometheus http:.*: the query returned 2 series/);
    assert.deepEqual(
      seen.sort((a, b) => String(a.query).localeCompare(String(b.query))),
      [
        {
          path: "/prefix/api/v1/query",
          method: "POST",
          query: "count by (instance) (up)",
          time: "1767348123.5",
        },
        {
          path: "/prefix/api/v1/query",
          method: "POST",
          query: 'sum(requests{version="1.4.2"})',
          time: "1767348123.5",
        },
      ],
    );
  } finally {
    await prometheus.close();
  }
});

test("a rejected query, a server error, a timeout and an unreachable server are clear errors", async () => {
  const prometheus = await fakePrometheus((_request, body, response) => {
    const query = body.get("query") ?? "";
    if (query === "bad(") {
      json(response, 400, {
        status: "error",
        errorType: "bad_data",
        error: "1:5: parse error: unclosed left parenthesis",
      });
    } else if (query === "broken") {
      response.writeHead(503);
      response.end("Service Unavailable");
    } else if (query === "huge") {
      json(response, 200, {
        status: "success",
        data: {
          resultType: "vector",
          result: Array.from({ length: 20_000 }, (_, i) => ({
            metric: { i: `${i}`.padStart(60, "0") },
            value: [1, "1"],
          })),
        },
      });
    }
    // Any other query gets no answer at all.
  });
  try {
    const ask = (query: string, timeoutMs = 5000) =>
      prometheusProvider({ url: prometheus.url, queries: { sli: query }, timeoutMs }).fetch(["sli"], context);
    await assert.rejects(ask("bad("), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(
        error.message,
        /the query for SLI "sli" to prometheus .* failed with HTTP 400 \(bad_data: 1:5: parse error: unclosed left parenthesis\)/,
      );
      return true;
    });
    await assert.rejects(ask("broken"), (error: unknown) => {
      assert.ok(!(error instanceof UserError));
      assert.match(String(error), /failed with HTTP 503 \("Service Unavailable"\)/);
      return true;
    });
    const reasons: string[] = [];
    const huge = await prometheusProvider({ url: prometheus.url, queries: { sli: "huge" } }).fetch(
      ["sli"],
      context,
      undefined,
      (_sli, reason) => reasons.push(reason),
    );
    assert.deepEqual(huge, { sli: null });
    assert.match(reasons[0] ?? "", /larger than 1048576 bytes/);
    const startedAt = Date.now();
    await assert.rejects(ask("silence", 300), /got no answer within 0.3s/);
    assert.ok(
      Date.now() - startedAt < 30_000,
      "a hang guard only: the message above proves the timeout fired",
    );
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(
      prometheusProvider({ url: prometheus.url, queries: { sli: "silence" } }).fetch(
        ["sli"],
        context,
        abort.signal,
      ),
      /was aborted/,
    );
  } finally {
    await prometheus.close();
  }
  const nobody = await fakePrometheus(() => undefined);
  await nobody.close();
  await assert.rejects(
    prometheusProvider({ url: nobody.url, queries: { sli: "up" } }).fetch(["sli"], context),
    /failed: fetch failed: connect ECONNREFUSED/,
  );
});
