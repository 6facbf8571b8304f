/**
 * `waybill init`: looks at a project folder, guesses how to build and run it, and writes a
 * commented waybill.yaml that validates. The guess only has to be a good start: the file
 * says what was detected so the user knows what to check.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { stringify } from "yaml";
import { UserError } from "../errors.js";
import { SpecError, parseServiceSpec } from "./load.js";
import type { runtimeNames } from "./schema.js";
import { commandArgv, commandProblem } from "./units.js";

export type Ecosystem = "node" | "jvm" | "go" | "python" | "generic";

export interface DetectedProject {
  ecosystem: Ecosystem;
  /** The file that gave the ecosystem away, e.g. package.json */
  evidence?: string;
  name: string;
  build?: { command: string; artifact: string };
  /** The command as argv, so names with spaces need no quoting rules */
  run: { command: string[]; runtime?: (typeof runtimeNames)[number] };
  /** Things the user should check, written into the file as comments */
  notes: string[];
}

export interface InitResult {
  file: string;
  project: DetectedProject;
}

/** Writes <dir>/waybill.yaml; never overwrites one. */
export function initServiceSpec(dir: string): InitResult {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UserError(`cannot init ${dir}: no such folder`);
  }
  const file = join(dir, "waybill.yaml");
  if (existsSync(file)) {
    throw new UserError(
      `${file} already exists; waybill init does not overwrite it (check it with: waybill validate)`,
    );
  }
  const project = detectProject(dir);
  const text = renderWaybillYaml(project);
  try {
    parseServiceSpec(text, file);
  } catch (error) {
    // Whatever the project holds, the template must validate: this is a bug, not a user error.
    if (error instanceof SpecError)
      throw new Error(`waybill init wrote an invalid waybill.yaml: ${error.message}`);
    throw error;
  }
  try {
    writeFileSync(file, text, { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new UserError(`${file} already exists`);
    throw error;
  }
  return { file, project };
}

/**
 * What the project says about itself, most explicit first: a Procfile's `web:` line says how it
 * starts whatever the language; then the language's own files; a Dockerfile's CMD is the last hint.
 */
export function detectProject(dir: string): DetectedProject {
  const detected = detectEcosystem(dir);
  const web = procfileWebCommand(dir);
  if (web === undefined) return detected;
  return {
    ...detected,
    evidence: detected.evidence === undefined ? "Procfile" : `${detected.evidence} and Procfile`,
    run: { ...detected.run, command: web },
    notes: detected.notes.filter(
      (note) => !note.includes("run.command") && !note.includes("starts the server"),
    ),
  };
}

function detectEcosystem(dir: string): DetectedProject {
  const has = (name: string) => existsSync(join(dir, name));
  const packageJson = has("package.json") ? readPackageJson(dir) : undefined;
  // A package.json that starts something is a node service; one that does not is often just
  // tooling (linters, a frontend build) beside a JVM, Go or Python service.
  if (packageJson?.startsSomething) return detectNode(dir, packageJson);
  if (has("pom.xml")) return detectMaven(dir);
  if (has("build.gradle") || has("build.gradle.kts")) return detectGradle(dir);
  if (has("go.mod")) return detectGo(dir);
  if (has("pyproject.toml") || has("requirements.txt")) return detectPython(dir);
  if (packageJson !== undefined) return detectNode(dir, packageJson);
  const cmd = dockerfileCommand(dir);
  if (cmd !== undefined) {
    return {
      ecosystem: "generic",
      evidence: "Dockerfile",
      name: serviceName(basename(resolve(dir))),
      run: { command: cmd },
      notes: ["run.command is the Dockerfile's CMD: check that it runs outside the image too."],
    };
  }
  return {
    ecosystem: "generic",
    name: serviceName(basename(resolve(dir))),
    run: { command: ["./start.sh"] },
    notes: ["Could not tell what kind of project this is: set run.command to how the service starts."],
  };
}

/** Heroku's convention: `web: <command>`, with $PORT, which the runtime expands without a shell. */
function procfileWebCommand(dir: string): string[] | undefined {
  const file = join(dir, "Procfile");
  if (!existsSync(file)) return undefined;
  const line = /^web:\s*(.+)$/m.exec(readFileSync(file, "utf8"))?.[1]?.trim();
  if (line === undefined || line === "") return undefined;
  return commandProblem(line) === undefined ? commandArgv(line) : ["sh", "-c", line];
}

/** `CMD ["a", "b"]` or `CMD a b`: the last CMD of the Dockerfile. */
function dockerfileCommand(dir: string): string[] | undefined {
  const file = join(dir, "Dockerfile");
  if (!existsSync(file)) return undefined;
  const cmds = [...readFileSync(file, "utf8").matchAll(/^\s*CMD\s+(.+)$/gim)];
  const last = cmds.at(-1)?.[1]?.trim();
  if (last === undefined) return undefined;
  if (last.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(last);
      if (Array.isArray(parsed) && parsed.every((word) => typeof word === "string"))
        return parsed as string[];
    } catch {
      return undefined;
    }
  }
  return commandProblem(last) === undefined ? commandArgv(last) : ["sh", "-c", last];
}

interface PackageJson {
  name?: string;
  start?: string;
  main?: string;
  hasBuildScript: boolean;
  startsSomething: boolean;
}

function readPackageJson(dir: string): PackageJson {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  } catch {
    return { hasBuildScript: false, startsSomething: false };
  }
  const record = isRecord(parsed) ? parsed : {};
  const scripts = isRecord(record.scripts) ? record.scripts : {};
  const start = typeof scripts.start === "string" ? scripts.start : undefined;
  const main = typeof record.main === "string" ? record.main : undefined;
  return {
    name: typeof record.name === "string" ? record.name : undefined,
    start,
    main,
    hasBuildScript: typeof scripts.build === "string",
    startsSomething: start !== undefined || main !== undefined,
  };
}

function detectNode(dir: string, pkg: PackageJson): DetectedProject {
  const has = (name: string) => existsSync(join(dir, name));
  const install = has("package-lock.json") || has("npm-shrinkwrap.json") ? "npm ci" : "npm install";
  const notes: string[] = [];
  let command: string[];
  if (pkg.start !== undefined && commandProblem(pkg.start) === undefined) {
    // Running the start script's command directly keeps npm out of the way of signals.
    command = commandArgv(pkg.start);
  } else if (pkg.start !== undefined) {
    command = ["npm", "start"];
  } else if (pkg.main !== undefined) {
    command = ["node", pkg.main];
  } else {
    const entry = ["server.js", "index.js", "app.js"].find(has) ?? "index.js";
    command = ["node", entry];
    notes.push(`No start script or main in package.json: check that ${entry} starts the server.`);
  }
  return {
    ecosystem: "node",
    evidence: "package.json",
    name: serviceName(pkg.name?.replace(/^@[^/]+\//, "") ?? basename(resolve(dir))),
    build: {
      command: pkg.hasBuildScript ? `${install} && npm run build` : `${install} --omit=dev`,
      artifact: ".",
    },
    run: { command, runtime: "node" },
    notes,
  };
}

function detectMaven(dir: string): DetectedProject {
  const pom = readFileSync(join(dir, "pom.xml"), "utf8");
  // The project's own coordinates, not those of its parent, dependencies or plugins.
  const own = pom.replace(
    /<(parent|dependencies|dependencyManagement|build|profiles|plugins)>[\s\S]*?<\/\1>/g,
    "",
  );
  const parent = /<parent>([\s\S]*?)<\/parent>/.exec(pom)?.[1] ?? "";
  const artifactId = literal(xmlText(own, "artifactId")) ?? basename(resolve(dir));
  const version = literal(xmlText(own, "version") ?? xmlText(parent, "version"));
  const jar = `target/${artifactId}${version === undefined ? "" : `-${version}`}.jar`;
  const maven = existsSync(join(dir, "mvnw")) ? "./mvnw" : "mvn";
  return {
    ecosystem: "jvm",
    evidence: "pom.xml",
    name: serviceName(artifactId),
    build: { command: `${maven} -B package -DskipTests`, artifact: "target/" },
    run: { command: ["java", "-jar", jar], runtime: "jvm" },
    notes: [`Check the jar name after the first build (ls target/*.jar).`],
  };
}

function detectGradle(dir: string): DetectedProject {
  const buildFile = existsSync(join(dir, "build.gradle.kts")) ? "build.gradle.kts" : "build.gradle";
  const build = readFileSync(join(dir, buildFile), "utf8");
  const settings = ["settings.gradle.kts", "settings.gradle"]
    .map((name) => join(dir, name))
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path, "utf8"))
    .join("\n");
  const projectName =
    literal(/rootProject\.name\s*=\s*["']([^"']+)["']/.exec(settings)?.[1]) ?? basename(resolve(dir));
  const version = literal(/^\s*version\s*=\s*["']([^"']+)["']/m.exec(build)?.[1]);
  const jar = `build/libs/${projectName}${version === undefined ? "" : `-${version}`}.jar`;
  const gradle = existsSync(join(dir, "gradlew")) ? "./gradlew" : "gradle";
  return {
    ecosystem: "jvm",
    evidence: buildFile,
    name: serviceName(projectName),
    build: { command: `${gradle} build -x test`, artifact: "build/libs/" },
    run: { command: ["java", "-jar", jar], runtime: "jvm" },
    notes: [`Check the jar name after the first build (ls build/libs/*.jar).`],
  };
}

function detectGo(dir: string): DetectedProject {
  const goMod = readFileSync(join(dir, "go.mod"), "utf8");
  const modulePath = /^module\s+(\S+)/m.exec(goMod)?.[1] ?? basename(resolve(dir));
  // A major-version suffix (example.com/hello/v2) is not the program's name.
  const segments = modulePath.split("/").filter((segment) => !/^v\d+$/.test(segment));
  const name = serviceName(segments[segments.length - 1] ?? basename(resolve(dir)));
  const notes: string[] = [];
  let mainPackage = ".";
  if (!existsSync(join(dir, "main.go"))) {
    const commands = listDirectories(join(dir, "cmd"));
    const [onlyCommand] = commands;
    if (commands.length === 1 && onlyCommand !== undefined) mainPackage = `./cmd/${onlyCommand}`;
    else notes.push("No main.go at the top: point the go build command at the main package.");
  }
  return {
    ecosystem: "go",
    evidence: "go.mod",
    name,
    build: { command: `go build -o bin/${name} ${mainPackage}`, artifact: "bin/" },
    run: { command: [`./bin/${name}`], runtime: "go" },
    notes,
  };
}

function detectPython(dir: string): DetectedProject {
  const has = (name: string) => existsSync(join(dir, name));
  const pyproject = has("pyproject.toml") ? readFileSync(join(dir, "pyproject.toml"), "utf8") : "";
  const projectName = /^\s*name\s*=\s*["']([^"']+)["']/m.exec(pyproject)?.[1] ?? basename(resolve(dir));
  const install = has("requirements.txt") ? "pip install -r requirements.txt" : "pip install .";
  const started = pythonEntryPoint(dir);
  return {
    ecosystem: "python",
    evidence: has("pyproject.toml") ? "pyproject.toml" : "requirements.txt",
    name: serviceName(projectName),
    // A virtualenv inside the artifact keeps the dependencies with the build.
    build: { command: `python3 -m venv .venv && .venv/bin/${install}`, artifact: "." },
    run: { command: started.command, runtime: "python" },
    notes: started.notes,
  };
}

/**
 * How a Python web app starts, from what it declares: Django's manage.py and wsgi module, a
 * FastAPI or Flask app object, served by gunicorn or uvicorn when they are dependencies, on
 * 127.0.0.1:$PORT. Module paths are found in the top folder and in app/ and src/.
 */
function pythonEntryPoint(dir: string): { command: string[]; notes: string[] } {
  const dependencies = ["requirements.txt", "pyproject.toml", "Pipfile"]
    .map((name) => join(dir, name))
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path, "utf8").toLowerCase())
    .join("\n");
  const uses = (name: string) => new RegExp(`(^|[\\s"'\\[,])${name}\\b`, "m").test(dependencies);
  const bind = "127.0.0.1:$PORT";
  if (existsSync(join(dir, "manage.py"))) {
    const wsgi = listDirectories(dir).find((folder) => existsSync(join(dir, folder, "wsgi.py")));
    if (uses("gunicorn") && wsgi !== undefined) {
      return { command: [".venv/bin/gunicorn", `${wsgi}.wsgi`, "--bind", bind], notes: [] };
    }
    return { command: [".venv/bin/python", "manage.py", "runserver", bind, "--noreload"], notes: [] };
  }
  const fastApi = findAppObject(dir, "FastAPI");
  if (fastApi !== undefined) {
    const server = uses("gunicorn") && !uses("uvicorn") ? undefined : ".venv/bin/uvicorn";
    if (server !== undefined) {
      return { command: [server, fastApi, "--host", "127.0.0.1", "--port", "$PORT"], notes: [] };
    }
  }
  const flask = findAppObject(dir, "Flask");
  if (flask !== undefined) {
    if (uses("gunicorn")) return { command: [".venv/bin/gunicorn", flask, "--bind", bind], notes: [] };
    return {
      command: [".venv/bin/flask", "--app", flask, "run", "--host", "127.0.0.1", "--port", "$PORT"],
      notes: ["Flask's own server is for development: add gunicorn to the requirements for production."],
    };
  }
  const entry = ["app.py", "main.py", "server.py", "wsgi.py"].find((name) => existsSync(join(dir, name)));
  if (entry !== undefined) {
    return {
      command: [".venv/bin/python", entry],
      notes: [`Check that ${entry} listens on 127.0.0.1:$PORT (the PORT environment variable).`],
    };
  }
  return {
    command: [".venv/bin/python", "main.py"],
    notes: ["No Procfile, web framework or app.py/main.py found: set run.command to how the service starts."],
  };
}

/** `module:variable` of the first `<variable> = <constructor>(` in the app's Python files. */
function findAppObject(dir: string, constructor: string): string | undefined {
  const pattern = new RegExp(`^(\\w+)\\s*=\\s*(?:\\w+\\.)?${constructor}\\(`, "m");
  for (const folder of ["", "app", "src"]) {
    const base = join(dir, folder);
    let files: string[];
    try {
      files = readdirSync(base)
        .filter((name) => name.endsWith(".py"))
        .sort();
    } catch {
      continue;
    }
    for (const file of files) {
      const variable = pattern.exec(readFileSync(join(base, file), "utf8"))?.[1];
      if (variable === undefined) continue;
      const module = [folder, file.replace(/\.py$/, "")].filter((part) => part !== "").join(".");
      return `${module.replace(/\.__init__$/, "")}:${variable}`;
    }
  }
  return undefined;
}

/**
 * A build-file value that is literal text, or undefined when it is a property such as
 * ${revision} or $version, whose value only the build knows.
 */
function literal(value: string | undefined): string | undefined {
  return value === undefined || value.includes("$") ? undefined : value;
}

function xmlText(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>\\s*([^<\\s]+)\\s*</${tag}>`).exec(xml)?.[1];
}

function listDirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Any project name → a lowercase DNS label, as metadata.name requires. */
export function serviceName(raw: string): string {
  const label = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label === "" ? "service" : label;
}

/** A command line when every word is plain, otherwise an argument list that needs no escaping. */
function commandYaml(argv: string[]): string {
  const plain = argv.every((word) => /^[\w./:=@%+,-]+$/.test(word));
  return plain ? argv.join(" ") : `[${argv.map((word) => JSON.stringify(word)).join(", ")}]`;
}

const ecosystemLabels: Record<Ecosystem, string> = {
  node: "Node.js",
  jvm: "JVM",
  go: "Go",
  python: "Python",
  generic: "unknown",
};

/** The commented waybill.yaml for a detected project. */
export function renderWaybillYaml(project: DetectedProject): string {
  // Quotes only where YAML needs them, e.g. a name such as "true" or a command with ": ".
  const quote = (text: string) => stringify(text, { lineWidth: 0 }).trimEnd();
  const detected =
    project.evidence === undefined
      ? "# Project type: unknown."
      : `# Project type: ${ecosystemLabels[project.ecosystem]} (found ${project.evidence}).`;
  const lines = [
    "# waybill.yaml: how Waybill builds, runs, tests and ships this service.",
    detected,
    ...project.notes.map((note) => `# TODO: ${note}`),
    "# Every field except metadata.name and run has a default. Check it with: waybill validate",
    "apiVersion: waybill.dev/v1",
    "kind: Service",
    "metadata:",
    `  name: ${quote(project.name)}`,
  ];
  if (project.build !== undefined) {
    lines.push(
      "build:",
      "  # A shell command, run in this folder.",
      `  command: ${quote(project.build.command)}`,
      "  # What the build produces, the thing that is shipped: a file or a folder.",
      `  artifact: ${quote(project.build.artifact)}`,
    );
  }
  lines.push(
    "run:",
    "  # Started without a shell; for pipes or && use a script, or give a list: [node, server.js].",
    `  command: ${commandYaml(project.run.command)}`,
    "  # The service must listen on $PORT (this value).",
    "  port: 8080",
    "  # A path that answers 2xx once the service is ready, such as /healthz.",
    "  health: /",
  );
  if (project.run.runtime !== undefined) {
    lines.push(
      "  # Passes the CPU and memory limits on to the runtime.",
      `  runtime: ${project.run.runtime}`,
    );
  }
  lines.push(
    "resources:",
    "  cpu: 500m",
    "  memory: 512Mi",
    "test:",
    "  load:",
    "    rate: 50 # requests per second",
    "    duration: 30s",
    "    requests: [{path: /}]",
    "# What good means, in Keptn's slo.yaml format. SLIs: latency_p50/p90/p95/p99/max (ms),",
    "# error_rate (%), throughput (req/s), cpu_seconds, memory_max_mib, cpu_throttled_pct.",
    "# Strict by default: p95 may grow 10% over the live release before it fails, 25% before",
    "# it is no longer even a warning, and any error rate of 1% fails the build outright.",
    "slo:",
    "  objectives:",
    '    - {sli: error_rate, pass: [{criteria: ["<1"]}], key_sli: true}',
    '    - {sli: latency_p95, pass: [{criteria: ["<=+10%"]}], warning: [{criteria: ["<=+25%"]}]}',
    '  total_score: {pass: "90%", warning: "75%"}',
    "# dev is a quick smoke stage; staging and production switch blue-green after the load test",
    "# and the gate. Only production waits for a person (`waybill approve`).",
    "stages:",
    "  - {name: dev, test: false, gate: false, approval: {pass: automatic, warning: automatic}}",
    "  - {name: staging, strategy: blue-green, approval: {pass: automatic, warning: automatic}}",
    "  - {name: production, strategy: blue-green, approval: {pass: manual, warning: manual}}",
    "",
  );
  return lines.join("\n");
}
