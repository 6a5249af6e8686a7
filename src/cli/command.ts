/**
 * The shape every command has. A command declares its words, arguments and options (which also
 * write its help), and runs with the parsed command line; it returns what to print and never
 * writes or exits itself, so the runner alone decides output format and exit status.
 */
import type { OptionSpecs, ParsedArgs } from "./args.js";
import type { AdminApi, CliEnv, ConnectionSettings, FederationApi } from "./connection.js";
import type { CommandOutput } from "./output.js";

export interface CommandInput {
  readonly args: ParsedArgs;
  /** The environment, for commands that read the server's own configuration. */
  readonly env: CliEnv;
  /** Server URL and credentials, from flags and environment. */
  connection(): ConnectionSettings;
  /** A ClientAdminService client authenticated with the connection's credentials. */
  admin(): Promise<AdminApi>;
  /** A FederationService client authenticated the same way. */
  federation(): Promise<FederationApi>;
  /** All of standard input, for `-f -`. */
  readStdin(): Promise<string>;
}

/** Returned by `serve`: the process now runs a server and ends on its own. */
export const SERVING = "serving";

export type CommandResult = CommandOutput | typeof SERVING;

export interface Command {
  /** The words that name it, e.g. ["clients", "create"]. */
  readonly path: readonly string[];
  readonly summary: string;
  /** More text for `--help`, below the usage line. */
  readonly description?: string;
  /** Required positional arguments, by placeholder, e.g. ["ID"]. */
  readonly arguments?: readonly string[];
  readonly options: OptionSpecs;
  /** Whether it talks to a server, and so takes --url, the credentials and --json. */
  readonly connects: boolean;
  run(input: CommandInput): Promise<CommandResult>;
}
