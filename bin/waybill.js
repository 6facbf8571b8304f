#!/usr/bin/env node
import module from "node:module";

// Node 22 and later keep compiled code between runs, so every command starts sooner; Node 20 has no such cache.
module.enableCompileCache?.();
// The bundled CLI (scripts/bundle-cli.mjs, run by `npm run build`): a few files per command, not hundreds.
await import("../dist/bundle/main.js");
