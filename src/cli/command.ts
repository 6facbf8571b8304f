/**
 * The shape every CLI command shares, one file per command under commands/ (as npm/cli does).
 * `defineCommand` takes a command's arguments and options, each declared once with a zod schema
 * (options.ts holds the common ones), and derives from them both commander's declarations (for
 * argv and --help) and the typed values `run` receives. `run` returns the process exit code
 * (docs/design.md: 0 ok/pass, 1 gate or verification failed, 2 bad input, 3 gate warning).
 * A value its schema refuses, or a UserError thrown, exits 2 with just one line.
 */
import { Argument, Option, type Command } from "commander";
import { z } from "zod";
import { UserError } from "../errors.js";

export interface CliContext {
  /** The state directory: --state, else WAYBILL_STATE, else the nearest .waybill/ upward, else ./.waybill */
  stateDir: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * A command as main.ts drives it: `configure` declares it on a commander Command, and `run` takes
 * what commander parsed, checks it against the command's schemas, then runs the command. Its
 * one-line summary sits in commands/index.ts, which lists every command without loading it.
 */
export interface CliCommand {
  name: string;
  configure(command: Command): Command;
  run(args: string[], options: Record<string, unknown>, context: CliContext): Promise<number>;
}

export interface ArgumentDeclaration<Schema extends z.ZodType = z.ZodType> {
  schema: Schema;
  description: string;
}

export interface OptionDeclaration<Schema extends z.ZodType = z.ZodType> {
  /** As commander reads them: `--tail <bytes>`, `--no-wait`, `--header <header>` */
  flags: string;
  description: string;
  schema: Schema;
}

/**
 * A positional argument, named by its key in `args`, in order. It is required when its schema
 * refuses its absence (an empty list, for a list), and takes every remaining word when its
 * schema is a list.
 */
export function argument<Schema extends z.ZodType>(
  schema: Schema,
  description = "",
): ArgumentDeclaration<Schema> {
  return { schema, description };
}

/**
 * An option, keyed by the name commander gives it (`--metrics-port` is metricsPort, `--no-wait`
 * is wait). One that takes a value is required when its schema refuses its absence, and may be
 * given again and again when its schema is a list. A default written with `.prefault(text)`, as
 * a user would type it, shows in --help; one written with `.default(value)` does not (switches,
 * and defaults the description already states).
 */
export function option<Schema extends z.ZodType>(
  flags: string,
  description: string,
  schema: Schema,
): OptionDeclaration<Schema> {
  return { flags, description, schema };
}

type Values<Declarations extends Record<string, { schema: z.ZodType }>> = {
  [Name in keyof Declarations]: z.output<Declarations[Name]["schema"]>;
};

export interface CommandDeclaration<
  Args extends Record<string, ArgumentDeclaration>,
  Options extends Record<string, OptionDeclaration>,
> {
  name: string;
  args?: Args;
  options?: Options;
  /** Shown after the options in --help, such as what each exit code means */
  helpAfter?: string;
  run(args: Values<Args>, options: Values<Options>, context: CliContext): Promise<number>;
}

export function defineCommand<
  Args extends Record<string, ArgumentDeclaration> = Record<never, never>,
  Options extends Record<string, OptionDeclaration> = Record<never, never>,
>(declaration: CommandDeclaration<Args, Options>): CliCommand {
  const args: Record<string, ArgumentDeclaration> = declaration.args ?? {};
  const options: Record<string, OptionDeclaration> = declaration.options ?? {};
  return {
    name: declaration.name,
    configure(command) {
      for (const [name, declared] of Object.entries(args)) {
        command.addArgument(commanderArgument(name, declared));
      }
      for (const [name, declared] of Object.entries(options)) {
        command.addOption(commanderOption(name, declared));
      }
      if (declaration.helpAfter !== undefined) command.addHelpText("after", declaration.helpAfter);
      return command;
    },
    async run(givenArgs, givenOptions, context) {
      const parsedArgs = parseValues(args, positionalValues(args, givenArgs), (name) => `<${name}>`);
      const parsedOptions = parseValues(options, givenOptions, (_name, { flags }) => longFlag(flags));
      // Each value is what its own schema made of it, which is what Values<…> says.
      return declaration.run(parsedArgs as Values<Args>, parsedOptions as Values<Options>, context);
    },
  };
}

function commanderArgument(name: string, { schema, description }: ArgumentDeclaration): Argument {
  const list = isList(schema);
  const required = !accepts(schema, list ? [] : undefined);
  const word = `${name}${list ? "..." : ""}`;
  const declared = new Argument(required ? `<${word}>` : `[${word}]`, description);
  showChoicesAndDefault(declared, schema);
  return declared;
}

function commanderOption(name: string, { flags, description, schema }: OptionDeclaration): Option {
  const declared = new Option(flags, description);
  if (declared.attributeName() !== name) {
    throw new Error(
      `option ${flags} is declared as "${name}", but commander calls it "${declared.attributeName()}"`,
    );
  }
  if (!declared.required && !declared.optional) return declared;
  if (isList(schema)) declared.argParser(appended);
  if (!accepts(schema, undefined)) declared.makeOptionMandatory();
  showChoicesAndDefault(declared, schema);
  return declared;
}

function appended(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Only shown: commander would refuse a value outside the choices with a message of its own,
 * and every refusal should read the same, from the schema.
 */
function showChoicesAndDefault(declared: Argument | Option, schema: z.ZodType): void {
  const inner = innermost(schema);
  if (inner instanceof z.ZodEnum) declared.argChoices = inner.options.map(String);
  if (schema instanceof z.ZodPrefault) declared.default(schema.def.defaultValue);
}

function innermost(schema: unknown): unknown {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) {
    return innermost(schema.unwrap());
  }
  return schema instanceof z.ZodPipe ? innermost(schema.in) : schema;
}

function isList(schema: z.ZodType): boolean {
  return innermost(schema) instanceof z.ZodArray;
}

function accepts(schema: z.ZodType, value: unknown): boolean {
  return schema.safeParse(value).success;
}

function positionalValues(
  declarations: Record<string, ArgumentDeclaration>,
  given: readonly string[],
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(declarations).map(([name, { schema }], index) => [
      name,
      isList(schema) ? given.slice(index) : given[index],
    ]),
  );
}

function parseValues<Declaration extends { schema: z.ZodType }>(
  declarations: Record<string, Declaration>,
  given: Record<string, unknown>,
  label: (name: string, declaration: Declaration) => string,
): Record<string, unknown> {
  const parsed: Record<string, unknown> = {};
  for (const [name, declaration] of Object.entries(declarations)) {
    const result = declaration.schema.safeParse(given[name]);
    if (!result.success) throw new UserError(refusal(label(name, declaration), given[name], result.error));
    parsed[name] = result.data;
  }
  return parsed;
}

/** `--tail: expected a whole number of bytes from 1 to 10000000, got "abc"` */
function refusal(label: string, given: unknown, error: z.ZodError): string {
  const issue = error.issues[0];
  const index = issue?.path[0];
  const offending = Array.isArray(given) && typeof index === "number" ? given[index] : given;
  const shown = offending === undefined ? "nothing" : JSON.stringify(offending);
  return `${label}: ${issue?.message ?? "not accepted"}, got ${shown}`;
}

function longFlag(flags: string): string {
  return new Option(flags).long ?? flags;
}
