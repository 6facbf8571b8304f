import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { UserError } from "../errors.js";
import { initServiceSpec, serviceName } from "./init.js";
import { loadServiceSpec } from "./load.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-init-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

let projectCount = 0;
/** A fresh project folder holding the given files */
function project(files: Record<string, string>): string {
  const dir = join(scratch, `project-${++projectCount}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

interface Case {
  title: string;
  files: Record<string, string>;
  ecosystem: string;
  runtime: string | undefined;
  name: string;
  runCommand: string;
  buildCommand?: string;
}

const cases: Case[] = [
  {
    title: "a node service with a start script runs that script's command",
    files: {
      "package.json": JSON.stringify({
        name: "@acme/cart",
        scripts: { start: "node dist/server.js", build: "tsc" },
      }),
      "package-lock.json": "{}",
    },
    ecosystem: "node",
    runtime: "node",
    name: "cart",
    runCommand: "node dist/server.js",
    buildCommand: "npm ci && npm run build",
  },
  {
    title: "a node start script that needs a shell runs through npm start",
    files: {
      "package.json": JSON.stringify({ name: "web", scripts: { start: "NODE_ENV=production node app.js" } }),
    },
    ecosystem: "node",
    runtime: "node",
    name: "web",
    runCommand: "npm start",
    buildCommand: "npm install --omit=dev",
  },
  {
    title: "a node package with only main runs main",
    files: { "package.json": JSON.stringify({ name: "api", main: "lib/index.js" }) },
    ecosystem: "node",
    runtime: "node",
    name: "api",
    runCommand: "node lib/index.js",
  },
  {
    title: "a Maven project runs the jar named by its own coordinates",
    files: {
      "pom.xml": `<project>
  <parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>3.3.0</version></parent>
  <groupId>com.acme</groupId>
  <artifactId>orders</artifactId>
  <version>1.2.0</version>
  <dependencies><dependency><artifactId>spring-web</artifactId><version>6.1.0</version></dependency></dependencies>
</project>`,
      mvnw: "",
    },
    ecosystem: "jvm",
    runtime: "jvm",
    name: "orders",
    runCommand: "java -jar target/orders-1.2.0.jar",
    buildCommand: "./mvnw -B package -DskipTests",
  },
  {
    title: "a Gradle Kotlin project runs build/libs/<name>-<version>.jar",
    files: {
      "build.gradle.kts": 'plugins { java }\nversion = "0.3.1"\n',
      "settings.gradle.kts": 'rootProject.name = "billing"\n',
    },
    ecosystem: "jvm",
    runtime: "jvm",
    name: "billing",
    runCommand: "java -jar build/libs/billing-0.3.1.jar",
    buildCommand: "gradle build -x test",
  },
  {
    title: "a Groovy Gradle project is detected too",
    files: { "build.gradle": "apply plugin: 'java'\nversion = '2.0'\n", gradlew: "" },
    ecosystem: "jvm",
    runtime: "jvm",
    name: "", // empty: the folder's name
    runCommand: "java -jar build/libs/",
    buildCommand: "./gradlew build -x test",
  },
  {
    title: "a Go module builds its binary into bin/",
    files: { "go.mod": "module github.com/acme/inventory/v2\n\ngo 1.22\n", "main.go": "package main\n" },
    ecosystem: "go",
    runtime: "go",
    name: "inventory",
    runCommand: "./bin/inventory",
    buildCommand: "go build -o bin/inventory .",
  },
  {
    title: "a Go module with one command under cmd/ builds that",
    files: { "go.mod": "module example.com/search\n", "cmd/searchd/main.go": "package main\n" },
    ecosystem: "go",
    runtime: "go",
    name: "search",
    runCommand: "./bin/search",
    buildCommand: "go build -o bin/search ./cmd/searchd",
  },
  {
    title: "a Python project with requirements.txt runs app.py in a virtualenv",
    files: { "requirements.txt": "flask==3.0.0\n", "app.py": "" },
    ecosystem: "python",
    runtime: "python",
    name: "",
    runCommand: ".venv/bin/python app.py",
    buildCommand: "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
  },
  {
    title: "a pyproject.toml project takes its name from the project table",
    files: { "pyproject.toml": '[project]\nname = "Risk-Scorer"\nversion = "0.1.0"\n', "main.py": "" },
    ecosystem: "python",
    runtime: "python",
    name: "risk-scorer",
    runCommand: ".venv/bin/python main.py",
    buildCommand: "python3 -m venv .venv && .venv/bin/pip install .",
  },
  {
    title: "a package.json that starts nothing does not hide a Maven project",
    files: {
      "package.json": JSON.stringify({ name: "tooling", devDependencies: { prettier: "3" } }),
      "pom.xml": "<project><artifactId>ledger</artifactId><version>1.0</version></project>",
    },
    ecosystem: "jvm",
    runtime: "jvm",
    name: "ledger",
    runCommand: "java -jar target/ledger-1.0.jar",
  },
  {
    title: "a Procfile's web line is how a Python app starts, $PORT and all (Heroku's getting-started app)",
    files: {
      Procfile: "web: gunicorn gettingstarted.wsgi --bind 0.0.0.0:$PORT\n",
      "requirements.txt": "django>=5.0,<6\ngunicorn==22.0.0\n",
      "manage.py": "",
      "gettingstarted/wsgi.py": "",
      "pyproject.toml": '[project]\nname = "heroku+python_getting_started"\n',
    },
    ecosystem: "python",
    runtime: "python",
    name: "heroku-python-getting-started",
    runCommand: "gunicorn gettingstarted.wsgi --bind 0.0.0.0:$PORT",
  },
  {
    title: "a Flask app behind gunicorn binds to $PORT without a hand edit",
    files: {
      "requirements.txt": "Flask==3.0.3\ngunicorn==22.0.0\n",
      "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
    },
    ecosystem: "python",
    runtime: "python",
    name: "",
    runCommand: ".venv/bin/gunicorn app:app --bind 127.0.0.1:$PORT",
  },
  {
    title: "a Flask app without gunicorn runs on Flask's own server",
    files: {
      "requirements.txt": "flask\n",
      "src/web.py": "import flask\n\nserver = flask.Flask(__name__)\n",
    },
    ecosystem: "python",
    runtime: "python",
    name: "",
    runCommand: ".venv/bin/flask --app src.web:server run --host 127.0.0.1 --port $PORT",
  },
  {
    title: "a FastAPI app runs under uvicorn",
    files: {
      "pyproject.toml": '[project]\nname = "orders"\ndependencies = ["fastapi", "uvicorn[standard]"]\n',
      "app/main.py": "from fastapi import FastAPI\napi = FastAPI()\n",
    },
    ecosystem: "python",
    runtime: "python",
    name: "orders",
    runCommand: ".venv/bin/uvicorn app.main:api --host 127.0.0.1 --port $PORT",
  },
  {
    title: "a Django app without gunicorn runs manage.py runserver on $PORT",
    files: { "requirements.txt": "Django\n", "manage.py": "", "shop/wsgi.py": "" },
    ecosystem: "python",
    runtime: "python",
    name: "",
    runCommand: ".venv/bin/python manage.py runserver 127.0.0.1:$PORT --noreload",
  },
  {
    title: "a Dockerfile's CMD is the last hint",
    files: { Dockerfile: 'FROM scratch\nCMD ["/usr/local/bin/server", "--port", "8080"]\n' },
    ecosystem: "generic",
    runtime: undefined,
    name: "",
    runCommand: "/usr/local/bin/server --port 8080",
  },
  {
    title: "an unknown project gets a generic file with a placeholder command",
    files: { "README.md": "# hello\n" },
    ecosystem: "generic",
    runtime: undefined,
    name: "",
    runCommand: "./start.sh",
  },
];

describe("initServiceSpec", () => {
  for (const testCase of cases) {
    it(testCase.title, () => {
      const dir = project(testCase.files);
      const { file, project: detected } = initServiceSpec(dir);
      assert.equal(file, join(dir, "waybill.yaml"));
      assert.equal(detected.ecosystem, testCase.ecosystem);

      const { spec } = loadServiceSpec(file);
      assert.equal(spec.run.runtime, testCase.runtime);
      assert.equal(spec.metadata.name, testCase.name || serviceName(basename(dir)));
      const command = spec.run.command;
      const commandText = Array.isArray(command) ? command.join(" ") : command;
      assert.ok(commandText?.startsWith(testCase.runCommand), `run.command is ${JSON.stringify(command)}`);
      if (testCase.buildCommand !== undefined) assert.equal(spec.build.command, testCase.buildCommand);
    });
  }

  it("scaffolds a strict SLO, and only production waits for a person", () => {
    const { file } = initServiceSpec(
      project({ "package.json": JSON.stringify({ name: "api", main: "index.js" }) }),
    );
    const { spec } = loadServiceSpec(file);
    const slo = typeof spec.slo === "string" ? undefined : spec.slo;
    const latency = slo?.objectives?.find((objective) => objective.sli === "latency_p95");
    assert.deepEqual(latency?.pass, [{ criteria: ["<=+10%"] }]);
    assert.deepEqual(latency?.warning, [{ criteria: ["<=+25%"] }]);
    assert.equal(slo?.objectives?.find((objective) => objective.sli === "error_rate")?.key_sli, true);
    const waits = spec.stages.filter(
      (stage) => stage.approval.pass === "manual" || stage.approval.warning === "manual",
    );
    assert.deepEqual(
      waits.map((stage) => stage.name),
      ["production"],
    );
  });

  it("writes names with spaces as an argument list", () => {
    const dir = project({ "my app/pom.xml": "<project><artifactId>my app</artifactId></project>" });
    initServiceSpec(join(dir, "my app"));
    const { spec } = loadServiceSpec(join(dir, "my app", "waybill.yaml"));
    assert.deepEqual(spec.run.command, ["java", "-jar", "target/my app.jar"]);
  });

  it("leaves a version that only the build knows, such as ${revision}, out of the jar name", () => {
    const dir = project({
      "pom.xml": "<project><artifactId>api</artifactId><version>${revision}</version></project>",
    });
    initServiceSpec(dir);
    assert.equal(loadServiceSpec(join(dir, "waybill.yaml")).spec.run.command, "java -jar target/api.jar");
  });

  it("says in the file what it detected", () => {
    const dir = project({ "go.mod": "module example.com/a\n", "main.go": "" });
    initServiceSpec(dir);
    assert.match(
      readFileSync(join(dir, "waybill.yaml"), "utf8"),
      /^# Project type: Go \(found go\.mod\)\.$/m,
    );
  });

  it("refuses to overwrite an existing waybill.yaml", () => {
    const dir = project({ "waybill.yaml": "# mine\n", "go.mod": "module a\n" });
    assert.throws(
      () => initServiceSpec(dir),
      (error: unknown) =>
        error instanceof UserError && error.exitCode === 2 && /already exists/.test(error.message),
    );
    assert.equal(readFileSync(join(dir, "waybill.yaml"), "utf8"), "# mine\n");
  });

  it("refuses a folder that does not exist", () => {
    assert.throws(() => initServiceSpec(join(scratch, "missing")), /no such folder/);
  });
});

describe("serviceName", () => {
  const cases: [string, string][] = [
    ["hello", "hello"],
    ["Hello_World", "hello-world"],
    ["my.service.v2", "my-service-v2"],
    ["--weird--", "weird"],
    ["日本", "service"],
    ["x".repeat(80), "x".repeat(63)],
  ];
  for (const [raw, name] of cases) {
    it(`turns ${JSON.stringify(raw.length > 20 ? `${raw.slice(0, 10)}…` : raw)} into ${name.length > 20 ? "63 characters" : name}`, () =>
      assert.equal(serviceName(raw), name));
  }
});
