// What each folder under src/ may import, as its README.md says, enforced: an import that crosses
// a boundary the README does not allow fails the lint. Tests (*.test.ts) may reach further: they
// assemble real parts to prove behaviour, and the test harnesses live in src/testing.
const folders = [
  "api",
  "artifact",
  "cli",
  "dashboard",
  "engine",
  "evidence",
  "exec",
  "gate",
  "http",
  "integrations",
  "kube",
  "loadgen",
  "metrics",
  "policy",
  "runtime",
  "security",
  "server",
  "sli",
  "spec",
  "store",
  "targets",
  "testing",
];

/**
 * Per folder: the other folders it may import from, whole (a string), or only some of their
 * files (`{ folder: [file, …] }`). Everything else under src/ is refused.
 */
const mayImport = {
  api: ["spec", { policy: ["policy-change.js"] }],
  artifact: [],
  cli: folders.filter((folder) => !["cli", "dashboard", "testing"].includes(folder)),
  dashboard: ["api"],
  engine: [
    "store",
    "spec",
    "artifact",
    "gate",
    "sli",
    "loadgen",
    "evidence",
    "policy",
    { targets: ["target.js"] },
  ],
  evidence: ["spec", { artifact: ["digest.js"] }, { store: ["store.js"] }],
  exec: [],
  gate: ["spec"],
  http: [],
  integrations: ["api", "store", "spec", { artifact: ["image.js"] }, "engine"],
  kube: ["spec"],
  loadgen: ["exec", "spec", "http"],
  metrics: ["store"],
  policy: ["spec"],
  runtime: [
    { kube: ["runtime-hints.js"] },
    { security: ["identity.js"] },
    { exec: ["process-exists.js"] },
    "http",
  ],
  security: [{ exec: ["process-exists.js"] }],
  server: folders.filter((folder) => folder !== "cli" && folder !== "testing"),
  sli: ["spec", "exec"],
  spec: [{ gate: ["criteria.js"] }],
  store: [
    { runtime: ["types.js"] },
    { policy: ["protected-policy.js"] },
    { gate: ["paired-comparison.js", "rightsizing.js", "security-cost.js"] },
    "evidence",
  ],
  targets: ["runtime", "kube", "store", "spec", "gate", "security", "evidence"],
  testing: folders,
};

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function restrictionsFor(folder) {
  const allowed = mayImport[folder];
  const patterns = [];
  for (const other of folders) {
    if (other === folder) continue;
    const rule = allowed.find((entry) => entry === other || (typeof entry === "object" && other in entry));
    if (rule === other) continue;
    const files = typeof rule === "object" ? rule[other] : [];
    const except = files.length === 0 ? "" : `(?!(${files.map(escape).join("|")})$)`;
    patterns.push({
      regex: `^(\\.\\./)+${escape(other)}/${except}`,
      message: `src/${folder} may not import this from src/${other}: see src/${folder}/README.md ("May import")`,
    });
  }
  return patterns;
}

export const boundaries = folders.map((folder) => ({
  files: [`src/${folder}/**/*.ts`],
  ignores: ["**/*.test.ts", "**/*.test.helpers.ts", "src/*/testing/**"],
  rules: { "no-restricted-imports": ["error", { patterns: restrictionsFor(folder) }] },
}));
