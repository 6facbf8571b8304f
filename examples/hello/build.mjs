// Builds dist/: the server plus build.json, which bakes the build switches into the artifact.
//   HELLO_BROKEN=1     the build fails its health check (Waybill rolls it back)
//   HELLO_SLOW_MS=<n>  every request takes n ms longer (a latency regression)
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";

mkdirSync("dist", { recursive: true });
copyFileSync("src/server.js", "dist/server.js");
const build = {
  healthy: process.env.HELLO_BROKEN !== "1",
  extraLatencyMs: Number(process.env.HELLO_SLOW_MS ?? 0),
};
writeFileSync("dist/build.json", `${JSON.stringify(build, null, 2)}\n`);
console.log(`built dist/ ${JSON.stringify(build)}`);
