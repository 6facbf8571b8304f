// Builds dist/: the server plus build.json, which bakes the build switches into the artifact.
//   HELLO_BROKEN=1         the build fails its health check (Waybill rolls it back)
//   HELLO_SLOW_PCT=<n>     every request takes n% longer (a latency regression the gate catches)
//   HELLO_LABEL=<text>     only changes the build (and so its digest), not its behaviour
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";

mkdirSync("dist", { recursive: true });
copyFileSync("src/server.js", "dist/server.js");
const baseLatencyMs = 100;
const build = {
  healthy: process.env.HELLO_BROKEN !== "1",
  latencyMs: baseLatencyMs * (1 + Number(process.env.HELLO_SLOW_PCT ?? 0) / 100),
  label: process.env.HELLO_LABEL ?? "",
};
writeFileSync("dist/build.json", `${JSON.stringify(build, null, 2)}\n`);
console.log(`built dist/ ${JSON.stringify(build)}`);
