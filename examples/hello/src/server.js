import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const build = JSON.parse(readFileSync(new URL("./build.json", import.meta.url), "utf8"));
const version = process.env.WAYBILL_VERSION ?? "dev";
const stage = process.env.WAYBILL_STAGE ?? "local";
const port = Number(process.env.PORT ?? 8080);
// Loopback unless told otherwise: in a container (see Dockerfile) the pod's address is what counts.
const host = process.env.HOST ?? "127.0.0.1";

function respond(response, status, body) {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  response.end(body);
}

const server = createServer((request, response) => {
  if (request.url === "/healthz") {
    respond(response, build.healthy ? 200 : 503, build.healthy ? "ok\n" : "this build is broken\n");
    return;
  }
  setTimeout(() => respond(response, 200, `hello from ${version} (${stage})\n`), build.latencyMs);
});

server.keepAliveTimeout = 65_000;
server.listen(port, host, () => console.log(`hello ${version} listening on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
