/**
 * `--help` at every level: the whole tool, a group (`tessera clients --help`), one command.
 * Written from the command table and the option specs, so it cannot drift from what is parsed.
 */
import { HELP_OPTION, optionsHelp } from "./args.js";
import { EXIT_CODE_HELP } from "./cli-error.js";
import type { Command } from "./command.js";
import { COMMANDS, GROUPS, commandsOf } from "./commands.js";
import { CONNECTION_OPTIONS } from "./connection.js";
import { JSON_OPTION } from "./output.js";

const CONNECTION_HELP = `Connection options (every command but serve):
${optionsHelp({ ...CONNECTION_OPTIONS, ...JSON_OPTION, ...HELP_OPTION })}`;

/** Wraps prose at 100 columns, for descriptions written as one line. */
function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line].join("\n");
}

function commandList(commands: readonly Command[]): string {
  const names = commands.map((command) => command.path.join(" "));
  const width = Math.max(...names.map((name) => name.length));
  return commands.map((command, index) => `  ${names[index]!.padEnd(width)}  ${command.summary}`).join("\n");
}

export function toolHelp(): string {
  return `tessera: run the Tessera server, manage its clients and signing keys, get tokens.

Usage: tessera <command> [arguments] [options]

Commands:
${commandList(COMMANDS)}

${CONNECTION_HELP}

Admin commands get an access token for the client id and secret at <url>/oauth/token and call
tessera.v1.ClientAdminService (or tessera.v1.FederationService) with it; the client needs the
tessera:admin scope (tessera:clients:read is enough for clients get and clients list).

${EXIT_CODE_HELP}

Run \`tessera <command> --help\` for a command's arguments and options.
`;
}

export function groupHelp(group: string): string {
  return `tessera ${group}: ${GROUPS.get(group) ?? ""}

Usage: tessera ${group} <command> [arguments] [options]

Commands:
${commandList(commandsOf(group))}

Run \`tessera ${group} <command> --help\` for a command's arguments and options.
`;
}

export function commandHelp(command: Command): string {
  const name = command.path.join(" ");
  const argumentsText = (command.arguments ?? []).map((argument) => ` ${argument}`).join("");
  const sections = [`Usage: tessera ${name}${argumentsText} [options]`, command.description ? `${command.summary}\n${wrap(command.description)}` : command.summary];
  if (Object.keys(command.options).length > 0) sections.push(`Options:\n${optionsHelp(command.options)}`);
  sections.push(command.connects ? CONNECTION_HELP : `Options:\n${optionsHelp(HELP_OPTION)}`, EXIT_CODE_HELP);
  return `${sections.join("\n\n")}\n`;
}
