/**
 * `tessera token`: an access token for a client, from `POST /oauth/token` with the client
 * credentials grant — what a service does at start-up, for scripts and for trying a client out.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import type { JsonObject } from "@bufbuild/protobuf";
import { usageError } from "./cli-error.js";
import type { Command } from "./command.js";
import { requireCredentials } from "./connection.js";
import { requestToken } from "./token-endpoint.js";

const issueToken: Command = {
  path: ["token"],
  summary: "Get an access token for a client (prints the token; --json the whole response).",
  description:
    "Authenticates with --client-id and --client-secret (or the environment variables) using client_secret_basic. An inactive client or a wrong secret exits 5.",
  connects: true,
  options: {
    scope: { type: "string", multiple: true, placeholder: "SCOPE", help: "A scope to request (default: the client's default scopes)." },
    audience: { type: "string", multiple: true, placeholder: "URI", help: "An audience to request (RFC 8707 resource; default: the client's default)." },
    "dpop-key": { type: "string", placeholder: "FILE", help: "A PEM private key (EC P-256, Ed25519 or RSA): get a DPoP-bound token (RFC 9449) for it." },
  },
  async run({ args, connection }) {
    const settings = connection();
    const response = await requestToken({
      baseUrl: settings.baseUrl,
      ...requireCredentials(settings),
      scopes: args.list("scope"),
      audiences: args.list("audience"),
      ...(args.string("dpop-key") ? { dpopKey: readPrivateKey(args.string("dpop-key")!) } : {}),
    });
    return { json: { ...response } as JsonObject, text: response.access_token };
  },
};

function readPrivateKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (error) {
    throw usageError(`cannot read --dpop-key ${file}: ${(error as Error).message}`);
  }
  try {
    return createPrivateKey(pem);
  } catch {
    throw usageError(`--dpop-key ${file} is not a PEM private key`);
  }
}

export const TOKEN_COMMANDS: readonly Command[] = [issueToken];
