import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../errors.js";
import { commandArgv, parseCpuMillicores, parseDuration, parseMemoryBytes } from "./units.js";

describe("parseDuration", () => {
  const valid: [string, number][] = [
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5s", 1500],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["2h", 7_200_000],
    ["1m30s500ms", 90_500],
    ["0s", 0],
    ["0", 0],
    ["7d", 604_800_000],
  ];
  for (const [text, ms] of valid) {
    it(`reads ${text} as ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }
  for (const text of ["", "30", "30 s", "00", "1w", "s", "-1s", "1h 30m", "30sec"]) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseDuration(text), UserError));
  }
});

describe("parseCpuMillicores", () => {
  const valid: [string | number, number][] = [
    ["500m", 500],
    ["2", 2000],
    [0.5, 500],
    ["0.25", 250],
    [2, 2000],
    ["1500m", 1500],
  ];
  for (const [value, millicores] of valid) {
    it(`reads ${JSON.stringify(value)} as ${millicores}m`, () =>
      assert.equal(parseCpuMillicores(value), millicores));
  }
  for (const value of ["", "0", "2 cores", "500 m", "-1", 0, -0.5, Number.NaN]) {
    it(`rejects ${JSON.stringify(value)}`, () => assert.throws(() => parseCpuMillicores(value), UserError));
  }
});

describe("parseMemoryBytes", () => {
  const valid: [string, number][] = [
    ["256Mi", 256 * 1024 * 1024],
    ["1Gi", 1024 ** 3],
    ["1G", 1e9],
    ["512Ki", 512 * 1024],
    ["1.5Gi", 1.5 * 1024 ** 3],
    ["128M", 128e6],
    ["1048576", 1048576],
    ["1Ti", 1024 ** 4],
  ];
  for (const [text, bytes] of valid) {
    it(`reads ${text} as ${bytes} bytes`, () => assert.equal(parseMemoryBytes(text), bytes));
  }
  for (const text of ["", "256MB", "1gi", "Mi", "0", "256 Mi", "-1Gi"]) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseMemoryBytes(text), UserError));
  }
});

describe("commandArgv", () => {
  const split: [string | string[], string[]][] = [
    ["node server.js", ["node", "server.js"]],
    ["  java   -jar  app.jar ", ["java", "-jar", "app.jar"]],
    [`node "my server.js" 'x y'`, ["node", "my server.js", "x y"]],
    ["node my\\ server.js", ["node", "my server.js"]],
    ["node '$PORT'", ["node", "$PORT"]],
    // The runtime puts the instance's port in place of $PORT: no shell is needed for it.
    ["gunicorn app:app --bind 127.0.0.1:$PORT", ["gunicorn", "app:app", "--bind", "127.0.0.1:$PORT"]],
    ["uvicorn main:app --port ${PORT}", ["uvicorn", "main:app", "--port", "$PORT"]],
    ["python -m http.server --bind=0.0.0.0", ["python", "-m", "http.server", "--bind=0.0.0.0"]],
    [
      ["sh", "-c", "npm ci && npm start"],
      ["sh", "-c", "npm ci && npm start"],
    ],
  ];
  for (const [command, argv] of split) {
    it(`splits ${JSON.stringify(command)} without a shell`, () =>
      assert.deepEqual(commandArgv(command), argv));
  }

  const rejected: [string, RegExp][] = [
    ["npm ci && npm start", /shell operator "&&"/],
    ["a || b", /shell operator "\|\|"/],
    ["node server.js | tee log", /shell operator "\|"/],
    ["cd app; node server.js", /shell operator ";"/],
    ["node server.js &", /shell operator "&"/],
    ["node server.js > out.log", /redirection ">"/],
    ["node server.js 2>&1", /redirection ">&"/],
    ["node server.js < input", /redirection "<"/],
    ["java -jar target/*.jar", /wildcard pattern "target\/\*\.jar"/],
    ["node server.js --home $HOME", /variable \$HOME/],
    ["node server.js --data ${DATA_DIR}", /variable \$DATA_DIR/],
    ["node $(cat entry)", /command substitution/],
    ["node `cat entry`", /backtick/],
    ["NODE_ENV=production node server.js", /run\.env/],
    ["node ~/server.js", /"~"/],
    ["node server.js # start it", /comment/],
    ["   ", /empty/],
  ];
  for (const [command, reason] of rejected) {
    it(`rejects ${JSON.stringify(command)} and says why`, () => {
      assert.throws(
        () => commandArgv(command),
        (error: unknown) => error instanceof UserError && reason.test(error.message),
      );
    });
  }

  it("tells the user to use a script or an argument list", () => {
    assert.throws(() => commandArgv("npm ci && npm start"), /script .*argument list/);
  });

  it("rejects an empty argument list", () => {
    assert.throws(() => commandArgv([]), UserError);
  });
});
