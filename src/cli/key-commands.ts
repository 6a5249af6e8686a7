/**
 * `tessera keys …`: Tessera's signing keys — list them with their lifecycle state, start a
 * rotation, or withdraw a compromised key. Key material never leaves the server.
 */
import {
  ListSigningKeysResponseSchema,
  RevokeSigningKeyResponseSchema,
  RotateSigningKeyResponseSchema,
} from "../gen/tessera/v1/client_admin_service_pb.js";
import { SigningAlgorithm } from "../gen/tessera/v1/client_pb.js";
import type { Command } from "./command.js";
import { algorithmFromWord } from "./enum-words.js";
import { messageJson } from "./output.js";
import { keyView, keysTable } from "./views.js";

const listKeys: Command = {
  path: ["keys", "list"],
  summary: "List signing keys (next, active, retired, revoked), newest first.",
  connects: true,
  options: {},
  async run({ admin }) {
    const response = await (await admin()).listSigningKeys({});
    return { json: messageJson(ListSigningKeysResponseSchema, response), text: keysTable(response.keys) };
  },
};

const rotateKey: Command = {
  path: ["keys", "rotate"],
  summary: "Make a new signing key for an algorithm and start its lifecycle.",
  description: "The new key is published in /keys first and signs once verifiers have had time to fetch it.",
  connects: true,
  options: {
    alg: { type: "string", placeholder: "ALG", help: "RS256, PS256, ES256 or EdDSA (default: the server's default algorithm)." },
  },
  async run({ args, admin }) {
    const alg = args.string("alg");
    const algorithm = alg === undefined ? SigningAlgorithm.UNSPECIFIED : algorithmFromWord(alg, "alg");
    const response = await (await admin()).rotateSigningKey({ algorithm });
    return { json: messageJson(RotateSigningKeyResponseSchema, response), text: keyView(response.key!) };
  },
};

const revokeKey: Command = {
  path: ["keys", "revoke"],
  summary: "Withdraw a compromised key at once; the tokens it signed become inactive.",
  arguments: ["KID"],
  connects: true,
  options: {},
  async run({ args, admin }) {
    const response = await (await admin()).revokeSigningKey({ kid: args.positional(0) });
    return { json: messageJson(RevokeSigningKeyResponseSchema, response), text: keyView(response.key!) };
  },
};

export const KEY_COMMANDS: readonly Command[] = [listKeys, rotateKey, revokeKey];
