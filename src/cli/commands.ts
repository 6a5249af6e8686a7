/**
 * Every command, and finding one by the words on the command line. Adding a command is adding
 * it to one of these lists; nothing else changes.
 */
import { ADMIN_COMMANDS } from "./admin-commands.js";
import { AUDIT_COMMANDS } from "./audit-commands.js";
import { CLIENT_COMMANDS } from "./client-commands.js";
import { CONFIG_COMMANDS } from "./config-commands.js";
import { EVENT_COMMANDS } from "./event-commands.js";
import type { Command } from "./command.js";
import { FEDERATION_COMMANDS } from "./federation-commands.js";
import { KEY_COMMANDS } from "./key-commands.js";
import { SERVE_COMMANDS } from "./serve-command.js";
import { TOKEN_COMMANDS } from "./token-command.js";

export const COMMANDS: readonly Command[] = [...SERVE_COMMANDS, ...ADMIN_COMMANDS, ...CLIENT_COMMANDS, ...FEDERATION_COMMANDS, ...CONFIG_COMMANDS, ...KEY_COMMANDS, ...AUDIT_COMMANDS, ...EVENT_COMMANDS, ...TOKEN_COMMANDS];

/** Commands of two words are grouped by the first; the group's one-line summary. */
export const GROUPS: ReadonlyMap<string, string> = new Map([
  ["admin", "Set up administration on this machine, without a running server."],
  ["clients", "Register and manage clients."],
  ["trusted-issuer", "Manage external token issuers whose tokens Tessera accepts (workload identity federation)."],
  ["federation-policy", "Manage which trusted issuers' tokens stand for which client."],
  ["delegation-policy", "Manage which clients may exchange tokens on another's behalf."],
  ["keys", "List and rotate signing keys."],
  ["audit", "Read the audit trail."],
  ["events", "See and resume the delivery of audit events to the webhook and stdout."],
]);

const BY_NAME: ReadonlyMap<string, Command> = new Map(COMMANDS.map((command) => [command.path.join(" "), command]));

export function findCommand(words: readonly string[]): Command | undefined {
  return BY_NAME.get(words.join(" "));
}

export function commandsOf(group: string): Command[] {
  return COMMANDS.filter((command) => command.path.length > 1 && command.path[0] === group);
}
