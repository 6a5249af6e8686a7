/**
 * One run of the CLI: find the command named by the leading words, parse its options, run it,
 * print its result as text or `--json`, and turn any failure into one line (or one JSON
 * object) and an exit code. Writes only through `io`, reads no globals: tests can call it.
 */
import { readFileSync } from "node:fs";
import { HELP_OPTION, parseCommandLine } from "./args.js";
import { CliError, EXIT_OK, exitCodeOf, toCliError, usageError } from "./cli-error.js";
import { SERVING, type Command, type CommandResult } from "./command.js";
import { GROUPS, findCommand } from "./commands.js";
import { CONNECTION_OPTIONS, connectAdminApi, connectFederationApi, connectionSettings, type CliEnv } from "./connection.js";
import { commandHelp, groupHelp, toolHelp } from "./help.js";
import { JSON_OPTION, errorJson } from "./output.js";

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** All of standard input; absent where there is none to read. */
  readonly stdin?: () => Promise<string>;
}

export interface CliRun {
  readonly argv: readonly string[];
  readonly env: CliEnv;
  readonly io: CliIo;
}

/** Options that may come before the command words (`tessera --json clients list`). */
const LEADING_VALUE_OPTIONS = new Set(Object.keys(CONNECTION_OPTIONS).map((name) => `--${name}`));

/** The arguments before `--`, where flags are flags. */
function flagsPart(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf("--");
  return end === -1 ? argv : argv.slice(0, end);
}

/**
 * Splits the command words (`clients`, `create`) from everything else. Words are taken until
 * they name a command; a leading connection option's value is not mistaken for a word.
 */
function splitCommandWords(argv: readonly string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === "--") {
      rest.push(...argv.slice(index));
      break;
    }
    if (arg.startsWith("-") || findCommand(words)) {
      rest.push(arg);
      if (LEADING_VALUE_OPTIONS.has(arg) && !findCommand(words) && index + 1 < argv.length) rest.push(argv[++index]!);
    } else {
      words.push(arg);
    }
  }
  return { words, rest };
}

/** The help for the words given: the tool, a group, or a command; undefined if they name nothing. */
function helpFor(words: readonly string[]): string | undefined {
  if (words.length === 0) return toolHelp();
  const command = findCommand(words);
  if (command) return commandHelp(command);
  if (words.length === 1 && GROUPS.has(words[0]!)) return groupHelp(words[0]!);
  return undefined;
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}

function resolveCommand(words: readonly string[]): Command {
  const command = findCommand(words);
  if (command) return command;
  if (words.length === 0) throw usageError("missing command; see tessera --help");
  if (words.length === 1 && GROUPS.has(words[0]!)) throw usageError(`missing command after "${words[0]}"; see tessera ${words[0]} --help`);
  throw usageError(`unknown command "${words.join(" ")}"; see tessera --help`);
}

async function runCommand(command: Command, argv: readonly string[], env: CliEnv, io: CliIo): Promise<CommandResult> {
  const specs = { ...command.options, ...(command.connects ? { ...CONNECTION_OPTIONS, ...JSON_OPTION } : {}), ...HELP_OPTION };
  const args = parseCommandLine(argv, specs, command.arguments ?? []);
  return command.run({
    args,
    env,
    connection: () => connectionSettings(args, env),
    admin: () => connectAdminApi(connectionSettings(args, env)),
    federation: () => connectFederationApi(connectionSettings(args, env)),
    readStdin: () => (io.stdin ? io.stdin() : Promise.reject(usageError("standard input cannot be read here"))),
  });
}

/** Runs one command line; resolves to the exit code, or SERVING when a server now runs. */
export async function runCli({ argv, env, io }: CliRun): Promise<number | typeof SERVING> {
  const flags = flagsPart(argv);
  const json = flags.includes("--json");
  try {
    const { words, rest } = splitCommandWords(argv);
    const restFlags = flagsPart(rest);
    if (words[0] === "help" || restFlags.includes("--help") || restFlags.includes("-h")) {
      const target = words[0] === "help" ? words.slice(1) : words;
      const help = helpFor(target);
      if (help === undefined) throw usageError(`unknown command "${target.join(" ")}"; see tessera --help`);
      io.stdout(help);
      return EXIT_OK;
    }
    if (words.length === 0 && restFlags.includes("--version")) {
      io.stdout(`${version()}\n`);
      return EXIT_OK;
    }
    const command = resolveCommand(words);
    const result = await runCommand(command, rest, env, io).catch((error: unknown) => {
      if (error instanceof CliError && error.code === "usage") throw usageError(`${error.message}; see tessera ${command.path.join(" ")} --help`);
      throw error;
    });
    if (result === SERVING) return SERVING;
    if (json) {
      io.stdout(`${JSON.stringify(result.json, null, 2)}\n`);
    } else {
      if (result.text !== "") io.stdout(`${result.text}\n`);
      for (const note of result.notes ?? []) io.stderr(`${note}\n`);
    }
    return result.exitCode ?? EXIT_OK;
  } catch (error) {
    const failure = toCliError(error);
    if (json) {
      io.stdout(`${JSON.stringify(errorJson(failure))}\n`);
    } else {
      const prefix = failure.code === "usage" ? "" : `${failure.code}: `;
      io.stderr(`tessera: ${prefix}${failure.message.replace(/\s*\n\s*/g, " ")}\n`);
    }
    return exitCodeOf(failure.code);
  }
}
