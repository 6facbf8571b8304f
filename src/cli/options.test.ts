import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Command } from "commander";
import { z } from "zod";
import { UserError } from "../errors.js";
import { capture, runCli } from "../testing/cli.js";
import { argument, defineCommand, option } from "./command.js";
import { commands } from "./commands/index.js";
import { duration, flag, flagOnByDefault, number, oneOf, repeatable, text, wholeNumber } from "./options.js";

const scratch = mkdtempSync(join(tmpdir(), "waybill-options-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** What a probe command's `run` was handed, typed by its declaration */
let received: unknown;

const probe = defineCommand({
  name: "probe",
  args: {
    mode: argument(oneOf(["fast", "slow"]).prefault("fast"), "how to probe"),
    targets: argument(z.array(text), "what to probe"),
  },
  options: {
    tail: option(
      "--tail <bytes>",
      "how much",
      wholeNumber({ min: 1, max: 10_000_000, of: "bytes" }).prefault("65536"),
    ),
    ratio: option("--ratio <fraction>", "a fraction", number({ above: 0, below: 1 }).optional()),
    pause: option("--pause <d>", "how long to wait", duration().default(1000)),
    wait: option("--no-wait", "return at once", flagOnByDefault),
    json: option("--json", "print JSON", flag),
    header: option("--header <header>", "repeat for more", repeatable(text)),
  },
  async run(args, options) {
    const typed: {
      args: { mode: "fast" | "slow"; targets: string[] };
      options: {
        tail: number;
        ratio?: number;
        pause: number;
        wait: boolean;
        json: boolean;
        header: string[];
      };
    } = { args, options };
    // @ts-expect-error --tail arrives as the number it was parsed into, not as text (nor as any)
    const _tailAsText: string = options.tail;
    received = typed;
    return 0;
  },
});

/** Parses argv as main.ts does: commander first, then the command's own schemas. */
async function probeWith(argv: string[]): Promise<unknown> {
  received = undefined;
  const command = probe.configure(new Command("probe")).exitOverride();
  command.action(async (...actionArgs: unknown[]) => {
    const self = actionArgs[actionArgs.length - 1];
    assert.ok(self instanceof Command);
    await probe.run(self.args, self.opts(), capture(join(scratch, "state")).context);
  });
  await command.parseAsync(argv, { from: "user" });
  return received;
}

const defaults = { tail: 65536, ratio: undefined, pause: 1000, wait: true, json: false, header: [] };

describe("options declared once with a schema", () => {
  const accepted: { behaviour: string; argv: string[]; args?: object; options: object }[] = [
    {
      behaviour: "a flag left out takes its default, already typed",
      argv: [],
      args: { mode: "fast", targets: [] },
      options: defaults,
    },
    {
      behaviour: "a whole-number flag arrives as a number",
      argv: ["--tail", "1024"],
      options: { ...defaults, tail: 1024 },
    },
    {
      behaviour: "a fraction and a duration arrive as numbers",
      argv: ["--ratio=0.25", "--pause", "2m"],
      options: { ...defaults, ratio: 0.25, pause: 120_000 },
    },
    {
      behaviour: "a --no-x switch is on unless negated",
      argv: ["--no-wait", "--json"],
      options: { ...defaults, wait: false, json: true },
    },
    {
      behaviour: "a repeated flag collects every value in order",
      argv: ["--header", "A: 1", "--header", "B: 2"],
      options: { ...defaults, header: ["A: 1", "B: 2"] },
    },
    {
      behaviour: "positional arguments arrive by name, a list taking the rest",
      argv: ["slow", "a", "b"],
      args: { mode: "slow", targets: ["a", "b"] },
      options: defaults,
    },
  ];
  for (const { behaviour, argv, args = { mode: "fast", targets: [] }, options } of accepted) {
    it(behaviour, async () => {
      assert.deepEqual(await probeWith(argv), { args, options });
    });
  }

  const refused: { behaviour: string; argv: string[]; says: string }[] = [
    {
      behaviour: "a flag that is not a number is refused with its name and what it expected",
      argv: ["--tail", "abc"],
      says: '--tail: expected a whole number of bytes from 1 to 10000000, got "abc"',
    },
    {
      behaviour: "a number outside its range is refused",
      argv: ["--ratio", "1"],
      says: '--ratio: expected a number between 0 and 1, got "1"',
    },
    {
      behaviour: "a fraction is not a whole number",
      argv: ["--tail", "1.5"],
      says: '--tail: expected a whole number of bytes from 1 to 10000000, got "1.5"',
    },
    {
      behaviour: "a duration without a unit is refused",
      argv: ["--pause", "10"],
      says: '--pause: expected a duration, such as 500ms, 10s or 2m, got "10"',
    },
    {
      behaviour: "a positional argument outside its choices is refused with its name",
      argv: ["medium"],
      says: '<mode>: expected fast or slow, got "medium"',
    },
  ];
  for (const { behaviour, argv, says } of refused) {
    it(`${behaviour} (a UserError, so exit 2)`, async () => {
      await assert.rejects(
        probeWith(argv),
        (error: unknown) => error instanceof UserError && error.exitCode === 2 && error.message === says,
      );
      assert.equal(received, undefined, "run was not reached");
    });
  }

  it("help shows choices and typed-as-given defaults, as commander always did", () => {
    const help = probe.configure(new Command("probe")).helpInformation();
    assert.match(help, /mode +how to probe \(choices: "fast", "slow", default: "fast"\)/);
    assert.match(help, /--tail <bytes> +how much \(default: "65536"\)/);
    assert.match(help, /--header <header> +repeat for more \(default: \[\]\)/);
    assert.match(help, /--pause <d> +how long to wait\n/);
  });

  it("a flag whose value must be given is required by commander too", () => {
    const strict = defineCommand({
      name: "strict",
      options: { file: option("--file <path>", "a file", text) },
      run: async () => 0,
    });
    const command = strict
      .configure(new Command("strict"))
      .exitOverride()
      .configureOutput({
        writeErr: () => undefined,
      });
    assert.throws(() => command.parse([], { from: "user" }), /required option '--file <path>' not specified/);
  });

  it("an option keyed under another name than commander gives it is caught when declared", () => {
    const misnamed = defineCommand({
      name: "misnamed",
      options: { dryrun: option("--dry-run", "say what would happen", flag) },
      run: async () => 0,
    });
    assert.throws(
      () => misnamed.configure(new Command("misnamed")),
      /option --dry-run is declared as "dryrun", but commander calls it "dryRun"/,
    );
  });

  it("every command declares its flags under the names commander gives them", async () => {
    for (const entry of commands) {
      const command = await entry.load();
      assert.doesNotThrow(() => command.configure(new Command(entry.name)), entry.name);
    }
  });
});

describe("the real CLI", () => {
  const refusals: { behaviour: string; argv: string[]; says: string }[] = [
    {
      behaviour: "waybill logs with a --tail that is not a number exits 2 before connecting",
      argv: ["logs", "web", "dev", "--tail", "abc"],
      says: '--tail: expected a whole number of bytes from 1 to 10000000, got "abc"',
    },
    {
      behaviour: "waybill runs with a --limit above the server's exits 2 before connecting",
      argv: ["runs", "--limit", "5000"],
      says: '--limit: expected a whole number from 1 to 1000, got "5000"',
    },
    {
      behaviour: "waybill policy with an unknown action exits 2 before connecting",
      argv: ["policy", "sho"],
      says: '<action>: expected show, set or history, got "sho"',
    },
    {
      behaviour: "waybill loadtest names the one bad --header among several",
      argv: ["loadtest", "http://127.0.0.1:1/", "--header", "A: 1", "--header", "no colon"],
      says: '--header: expected "Name: value", got "no colon"',
    },
    {
      behaviour: "waybill serve with a port out of range exits 2 before starting",
      argv: ["serve", "--port", "70000"],
      says: '--port: expected a whole number from 0 to 65535, got "70000"',
    },
  ];
  for (const { behaviour, argv, says } of refusals) {
    it(behaviour, async () => {
      const stateDir = join(scratch, `state-${argv[0] ?? ""}`);
      const result = await runCli(argv, { stateDir });
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr, `error: ${says}\n`, "one line, no stack trace");
      assert.equal(result.stdout, "");
      assert.ok(!existsSync(stateDir), "no control plane was looked for or started");
    });
  }

  it("waybill serve turns --port into a number and defaults it to 7300", async () => {
    const stateDir = join(scratch, "state-serve-unit");
    const given = await runCli(["serve", "--systemd-unit", "--port", "07301"], { stateDir });
    assert.equal(given.code, 0, given.stderr);
    assert.match(given.stdout, / serve --port 7301\n/);
    const defaulted = await runCli(["serve", "--systemd-unit"], { stateDir });
    assert.match(defaulted.stdout, / serve --port 7300\n/);
  });

  it("waybill keys generate takes its --type default", async () => {
    const out = join(scratch, "keys");
    const result = await runCli(["keys", "generate", "--out", out], {
      stateDir: join(scratch, "state-keys"),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      readdirSync(out).map((file) => file.replace(/[0-9a-f]{12}/, "<id>")),
      ["ed25519-<id>.key", "ed25519-<id>.pub"],
    );
  });
});
