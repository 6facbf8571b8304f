/**
 * The unit strings of waybill.yaml (durations, CPU, memory) turned into numbers, and
 * run commands turned into argv. Pure functions: a bad value throws a UserError.
 */
import { parse, type ParseEntry } from "shell-quote";
import { UserError } from "../errors.js";

const durationUnitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPart = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** "1h30m" → 5400000, "500ms" → 500, "1.5s" → 1500, "7d" → 604800000; a bare "0" is no time at all */
export function parseDuration(text: string | 0): number {
  if (text === 0 || text === "0") return 0;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(durationPart)) {
    total += Number(match[1]) * durationUnitMs[match[2] as keyof typeof durationUnitMs];
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new UserError(
      `invalid duration "${text}": expected a duration such as 0, 500ms, 30s, 5m, 1h30m or 7d`,
    );
  }
  return Math.round(total);
}

/** Kubernetes CPU quantities: 0.5 and "0.5" are cores, "500m" is millicores; all → 500 */
export function parseCpuMillicores(value: string | number): number {
  if (typeof value === "number") {
    if (!(value > 0) || !Number.isFinite(value))
      throw new UserError(`invalid CPU ${value}: expected cores > 0`);
    return Math.round(value * 1000);
  }
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(value);
  const amount = Number(match?.[1]);
  if (!match || !(amount > 0)) {
    throw new UserError(`invalid CPU "${value}": expected cores (1, 0.5) or millicores (500m)`);
  }
  return Math.round(match[2] === "m" ? amount : amount * 1000);
}

const memoryUnitBytes: Record<string, number> = {
  "": 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Kubernetes memory quantities: "256Mi" → 268435456, "1G" → 1e9, "1024" → 1024 */
export function parseMemoryBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(text);
  const amount = Number(match?.[1]);
  if (!match || !(amount > 0)) {
    throw new UserError(`invalid memory "${text}": expected a size such as 256Mi, 1Gi or 1G`);
  }
  return Math.round(amount * (memoryUnitBytes[match[2] ?? ""] ?? 1));
}

/** Kept as written when a command is split; the runtime expands it (runtime/identity-env.ts). */
const PORT_REFERENCE = "$PORT";

/** Stands in for `$NAME` while splitting, so an expansion the user expected can be reported. */
interface EnvReference {
  envVar: string;
}
type CommandToken = ParseEntry | EnvReference;

const noShellAdvice =
  'Waybill starts the command without a shell, so put the shell part in a script (such as ./start.sh) or give the command as an argument list, e.g. ["node", "server.js"]';

/**
 * Why a command string cannot run without a shell, or undefined if it can. Commands are split
 * like a shell splits words, but nothing a shell would expand or connect is allowed: silently
 * passing `&&` or `$HOME` to the program as a literal argument is worse than refusing. `$PORT`
 * (and `${PORT}`) is the exception: the runtime puts the instance's port in its place.
 */
export function commandProblem(command: string): string | undefined {
  const tokens: CommandToken[] = parse(command, (name): EnvReference | string =>
    name === "PORT" ? PORT_REFERENCE : { envVar: name },
  );
  if (tokens.length === 0) return "the command is empty";
  for (const [index, token] of tokens.entries()) {
    const problem = tokenProblem(token, index);
    if (problem !== undefined) return `the command "${command}" ${problem}. ${noShellAdvice}`;
  }
  return undefined;
}

function tokenProblem(token: CommandToken, index: number): string | undefined {
  if (typeof token === "string") {
    if (token.includes("`")) return "uses backtick command substitution";
    if (token.startsWith("~")) return `uses "~", which only a shell expands`;
    if (index === 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(token)) {
      return `sets the environment variable ${token.split("=")[0]} in shell syntax (set it in run.env instead)`;
    }
    return undefined;
  }
  if ("envVar" in token) {
    return token.envVar === "" ? "uses $(…) command substitution" : `uses the variable $${token.envVar}`;
  }
  if ("comment" in token) return "contains a # comment";
  if (token.op === "glob") return `uses the wildcard pattern "${token.pattern}"`;
  if ([">", ">>", "<", ">&", "<("].includes(token.op)) return `uses the redirection "${token.op}"`;
  return `uses the shell operator "${token.op}"`;
}

/** The argv to spawn for a run command: an array is taken as is, a string is split into words. */
export function commandArgv(command: string | string[]): string[] {
  if (Array.isArray(command)) {
    if (command.length === 0) throw new UserError("the command is empty");
    return [...command];
  }
  const problem = commandProblem(command);
  if (problem !== undefined) throw new UserError(problem);
  return parse(command, (name) => (name === "PORT" ? PORT_REFERENCE : "")).filter(
    (token): token is string => typeof token === "string",
  );
}
