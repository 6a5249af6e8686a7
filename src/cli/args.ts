/**
 * Command-line parsing on node:util parseArgs: option specs that also write the help text,
 * typed access to the parsed values, and parsers for the values flags carry. Every problem is
 * a usage error (exit 2), reported before anything is sent to a server.
 */
import { parseArgs } from "node:util";
import { parseDuration } from "../config/config.js";
import { usageError } from "./cli-error.js";

export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** May be given more than once; the values are collected in order. */
  readonly multiple?: boolean;
  readonly short?: string;
  /** The value's placeholder in help, e.g. "ID". */
  readonly placeholder?: string;
  readonly help: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export const HELP_OPTION: OptionSpecs = {
  help: { type: "boolean", short: "h", help: "Show help for this command." },
};

type ParsedValue = string | boolean | (string | boolean)[] | undefined;

/** The parsed command line of one command, with accessors that check the value's shape. */
export class ParsedArgs {
  constructor(
    private readonly values: Readonly<Record<string, ParsedValue>>,
    readonly positionals: readonly string[],
  ) {}

  /** Whether the option was given at all (even with an empty value). */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === "string" ? value : undefined;
  }

  /** A repeatable option's values; empty values are dropped, so `--scope ''` means "none". */
  list(name: string): string[] {
    const value = this.values[name];
    const all = Array.isArray(value) ? value : value === undefined ? [] : [value];
    return all.filter((item): item is string => typeof item === "string" && item !== "");
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === "") throw usageError(`--${name} is required`);
    return value;
  }

  positional(index: number): string {
    return this.positionals[index]!;
  }
}

/**
 * Parses `argv` against `specs`; `argumentNames` are the required positional arguments, in
 * order (no more, no fewer are accepted).
 */
export function parseCommandLine(argv: readonly string[], specs: OptionSpecs, argumentNames: readonly string[]): ParsedArgs {
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.short ? { short: spec.short } : {}) },
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageError(parseArgsProblem(error));
  }
  const { values, positionals } = parsed;
  if (positionals.length < argumentNames.length) throw usageError(`missing argument ${argumentNames[positionals.length]}`);
  if (positionals.length > argumentNames.length) throw usageError(`unexpected argument ${JSON.stringify(positionals[argumentNames.length])}`);
  return new ParsedArgs(values, positionals);
}

/** parseArgs's messages go on about values that start with "-"; the first sentence is the problem. */
function parseArgsProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(--?[\w-]+)/.exec(message)?.[1];
  if (option && message.includes("argument is ambiguous")) return `${option} needs a value (write ${option}=VALUE if it starts with "-")`;
  return message.split(/\.\s/)[0]!.replace(/\.$/, "");
}

/** Help lines for a set of options, aligned. */
export function optionsHelp(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.type === "string" ? ` ${spec.placeholder ?? "VALUE"}` : ""}`;
    return [flag, spec.multiple ? `${spec.help} Repeatable.` : spec.help] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join("\n");
}

export function positiveInteger(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 2 ** 31 - 1) throw usageError(`--${flag} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** A duration in seconds, written as the server's configuration writes them: 3600, 90s, 15m, 1h, 1d. */
export function durationSeconds(raw: string, flag: string): number {
  const problems: string[] = [];
  const seconds = parseDuration(raw, { name: `--${flag}`, fallback: 0 }, problems);
  if (problems.length > 0) throw usageError(problems.join("; "));
  return seconds;
}

/** The value among `choices` (matched case-insensitively), as it is spelled there. */
export function oneOf<T extends string>(raw: string, flag: string, choices: readonly T[]): T {
  const found = choices.find((choice) => choice.toLowerCase() === raw.toLowerCase());
  if (!found) throw usageError(`--${flag} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
  return found;
}

/**
 * `key=value` pairs into an object; the value is everything after the first `=`. A key given
 * twice is a usage error rather than the last value silently winning.
 */
export function keyValuePairs(pairs: readonly string[], flag: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf("=");
    if (separator < 1) throw usageError(`--${flag} must be key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, separator);
    if (Object.hasOwn(result, key)) throw usageError(`--${flag} gives ${JSON.stringify(key)} twice`);
    result[key] = pair.slice(separator + 1);
  }
  return result;
}
