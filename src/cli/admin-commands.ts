/**
 * `tessera admin bootstrap`: the first admin client, made on the machine that holds the storage.
 * It reads the server's own configuration (DATABASE_URL or TESSERA_DATA_DIR, TESSERA_ISSUER),
 * works on the database directly, and prints the new secret once.
 */
import { bootstrapAdminClient } from "../admin-bootstrap.js";
import { ConfigError, loadConfig } from "../config/config.js";
import { DataDirectoryInUseError } from "../data-directory.js";
import { TesseraError } from "../errors.js";
import { CLIENT_ID_PATTERN } from "../clients/client.js";
import { CliError, usageError } from "./cli-error.js";
import type { Command } from "./command.js";
import { JSON_OPTION, renderFields } from "./output.js";

const DEFAULT_ADMIN_ID = "tessera-admin";

const bootstrap: Command = {
  path: ["admin", "bootstrap"],
  summary: "Create an admin client (or give it a new secret) directly in the database, and print its secret once.",
  description:
    "Reads the same environment as the server (DATABASE_URL, TESSERA_DATA_DIR, TESSERA_ISSUER) and writes to the database itself, " +
    "so it works before anyone can call the admin API. The client gets the tessera:admin and tessera:introspect scopes and the issuer " +
    "as audience; run again to replace a lost secret. On the embedded database the server must be stopped (one process at a time); " +
    "on PostgreSQL running servers pick the change up at once. A client named by TESSERA_ADMIN_CLIENT_ID gets that secret back at the next start.",
  connects: false,
  options: {
    id: { type: "string", placeholder: "ID", help: `The admin client's id (default ${DEFAULT_ADMIN_ID}).` },
    ...JSON_OPTION,
  },
  async run({ args, env }) {
    let config;
    try {
      config = loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError("usage", error.message);
      throw error;
    }
    const clientId = args.string("id") ?? DEFAULT_ADMIN_ID;
    if (!CLIENT_ID_PATTERN.test(clientId)) throw usageError(`--id must be 3–128 characters of A-Z a-z 0-9 . _ ~ -, got ${JSON.stringify(clientId)}`);
    let admin;
    try {
      admin = await bootstrapAdminClient(config, { clientId });
    } catch (error) {
      if (error instanceof DataDirectoryInUseError) throw new CliError("failed_precondition", error.message);
      if (error instanceof TesseraError && (error.code === "invalid_argument" || error.code === "failed_precondition")) {
        throw new CliError(error.code, error.message);
      }
      throw error;
    }
    return {
      json: {
        clientId: admin.clientId,
        clientSecret: admin.clientSecret,
        created: admin.created,
        scopes: [...admin.scopes],
        audiences: [...admin.audiences],
        issuer: config.issuer,
      },
      text: `${renderFields([
        ["client_id", admin.clientId],
        ["status", admin.created ? "created" : "existing client, new secret"],
        ["scopes", admin.scopes.join(" ")],
        ["audience", admin.audiences.join(" ")],
      ])}\n\nclient_secret (shown only this once: store it now):\n${admin.clientSecret}`,
      notes: [`Get an admin token: curl -u '${admin.clientId}:<secret>' -d grant_type=client_credentials ${config.issuer.replace(/\/$/, "")}/oauth/token`],
    };
  },
};

export const ADMIN_COMMANDS: readonly Command[] = [bootstrap];
