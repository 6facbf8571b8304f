import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import { UserError } from "../../errors.js";
import { classSourceLocation } from "./jvm-class-load.js";
import { loadRecorderEnv, readLoadedFiles } from "./recorder.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-load-recorder-unit-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("the environment a recorded process starts with", () => {
  test("Node preloads the recorder's own copy first and keeps the user's NODE_OPTIONS", () => {
    const folder = join(scratch, "node");
    const env = loadRecorderEnv("node", folder, { NODE_OPTIONS: "--max-old-space-size=64", PORT: "1" });
    const preload = pathToFileURL(join(folder, "node-preload.mjs")).href;
    assert.deepEqual(env, { NODE_OPTIONS: `--import ${preload} --max-old-space-size=64` });
    for (const script of ["node-preload.mjs", "node-hooks.mjs"]) {
      assert.doesNotMatch(readFileSync(join(folder, script), "utf8"), /sourceMappingURL/);
    }
  });

  test("Node without NODE_OPTIONS of the user's gets the preload alone", () => {
    const env = loadRecorderEnv("node", join(scratch, "node-alone"), { NODE_OPTIONS: "  " });
    assert.match(env.NODE_OPTIONS ?? "", /^--import file:\/\/\/\S+\/node-preload\.mjs$/);
  });

  test("Python finds the recorder's sitecustomize first, then the user's PYTHONPATH", () => {
    const folder = join(scratch, "python");
    const env = loadRecorderEnv("python", folder, { PYTHONPATH: "/srv/app/lib:/srv/app/vendor" });
    assert.deepEqual(env, { PYTHONPATH: `${join(folder, "python")}:/srv/app/lib:/srv/app/vendor` });
    assert.ok(existsSync(join(folder, "python", "sitecustomize.py")));
  });

  test("a JVM logs its class loads into a file of its own, after the user's options", () => {
    const folder = join(scratch, "jvm");
    const env = loadRecorderEnv("jvm", folder, { JAVA_TOOL_OPTIONS: "-Xmx64m" });
    assert.deepEqual(env, {
      JAVA_TOOL_OPTIONS: `-Xmx64m -Xlog:class+load=info:file=${join(folder, "classload-%p.log")}`,
    });
  });

  const asRoot = process.getuid?.() === 0;

  test(
    "the folder is given to the app's user, who writes the records",
    { skip: !asRoot && "needs root" },
    () => {
      const folder = join(scratch, "given");
      loadRecorderEnv("node", folder, {}, { appUser: { uid: 65534, gid: 65534 } });
      const { uid, gid } = statSync(folder);
      assert.deepEqual({ uid, gid }, { uid: 65534, gid: 65534 });
    },
  );

  test(
    "a JVM gets no log option for a folder it could not write, rather than refusing to start",
    { skip: asRoot && "root writes anywhere" },
    () => {
      const folder = join(scratch, "read-only");
      mkdirSync(folder, { mode: 0o555 });
      assert.deepEqual(loadRecorderEnv("jvm", folder, { JAVA_TOOL_OPTIONS: "-Xmx64m" }), {});
    },
  );

  test("a folder the option cannot carry is refused with the reason", () => {
    assert.throws(() => loadRecorderEnv("jvm", join(scratch, "with space"), {}), UserError);
    assert.throws(() => loadRecorderEnv("jvm", join(scratch, "100%"), {}), UserError);
    assert.throws(() => loadRecorderEnv("python", join(scratch, "a:b"), {}), /cannot go on PYTHONPATH/);
  });
});

describe("where a JVM loaded a class from", () => {
  const line = (source: string) => `[0.070s][info][class,load] com.example.Thing source: ${source}`;
  const cases: { name: string; line: string; location: string | undefined }[] = [
    {
      name: "a jar on the class path",
      line: line("file:/srv/app/lib/used-1.0.jar"),
      location: "/srv/app/lib/used-1.0.jar",
    },
    {
      name: "a class folder, without its trailing slash",
      line: line("file:/srv/app/classes/"),
      location: "/srv/app/classes",
    },
    {
      name: "a jar URL",
      line: line("jar:file:/srv/app/lib/used-1.0.jar!/"),
      location: "/srv/app/lib/used-1.0.jar",
    },
    {
      name: "a jar inside the app's jar",
      line: line("jar:file:/srv/app/app.jar!/BOOT-INF/lib/used-1.0.jar!/"),
      location: "/srv/app/app.jar!/BOOT-INF/lib/used-1.0.jar",
    },
    {
      name: "a jar inside the app's jar, as Spring Boot 3.2 names it",
      line: line("jar:nested:/srv/app/app.jar/!BOOT-INF/lib/used-1.0.jar!/"),
      location: "/srv/app/app.jar!/BOOT-INF/lib/used-1.0.jar",
    },
    {
      name: "a percent-encoded path",
      line: line("file:/srv/my%20app/lib/x.jar"),
      location: "/srv/my app/lib/x.jar",
    },
    { name: "the JDK's class data archive", line: line("shared objects file"), location: undefined },
    {
      name: "the JDK's class data archive, top layer",
      line: line("shared objects file (top)"),
      location: undefined,
    },
    { name: "the JDK's modules", line: line("jrt:/java.base"), location: undefined },
    { name: "a class defined at run time", line: line("__JVM_LookupDefineClass__"), location: undefined },
    {
      name: "a line that is not a class load",
      line: "[0.001s][info][class,load] opened",
      location: undefined,
    },
  ];
  for (const { name, line: logLine, location } of cases) {
    test(name, () => assert.equal(classSourceLocation(logLine), location));
  }
});

describe("reading what was recorded", () => {
  test("nothing at all when the folder was never written", async () => {
    assert.deepEqual(await readLoadedFiles("node", join(scratch, "never")), []);
    assert.deepEqual(await readLoadedFiles("jvm", join(scratch, "never")), []);
  });

  test("each absolute path once, sorted, without the line a dying process left unfinished", async () => {
    const folder = join(scratch, "recorded-node");
    mkdirSync(folder);
    writeFileSync(
      join(folder, "node-loaded.txt"),
      "/srv/app/b.js\n/srv/app/a.js\n/srv/app/b.js\n\nrelative.js\n/srv/app/c",
    );
    assert.deepEqual(await readLoadedFiles("node", folder), ["/srv/app/a.js", "/srv/app/b.js"]);
  });

  test("every JVM's log, rotated ones too, as jars and class folders", async () => {
    const folder = join(scratch, "recorded-jvm");
    mkdirSync(folder);
    const log = (...sources: string[]) =>
      sources.map((source) => `[0.1s][info][class,load] X source: ${source}\n`).join("");
    writeFileSync(join(folder, "classload-100.log"), log("shared objects file", "file:/srv/app/classes/"));
    writeFileSync(join(folder, "classload-100.log.0"), log("file:/srv/app/lib/a-1.jar", "jrt:/java.base"));
    writeFileSync(
      join(folder, "classload-200.log"),
      log("file:/srv/app/lib/a-1.jar", "file:/srv/app/lib/b-2.jar"),
    );
    writeFileSync(join(folder, "other.log"), log("file:/srv/app/lib/c-3.jar"));
    assert.deepEqual(await readLoadedFiles("jvm", folder), [
      "/srv/app/classes",
      "/srv/app/lib/a-1.jar",
      "/srv/app/lib/b-2.jar",
    ]);
  });
});
