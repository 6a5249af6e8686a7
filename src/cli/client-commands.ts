/**
 * `tessera clients …`: the client lifecycle over ClientAdminService — create, list, get,
 * update, deactivate, reactivate, delete, rotate-secret. Each command turns flags into one
 * request (a few for `list --all`) and prints the response.
 */
import { create } from "@bufbuild/protobuf";
import {
  CancelSecretRotationResponseSchema,
  CompleteSecretRotationResponseSchema,
  CreateClientResponseSchema,
  DeactivateClientResponseSchema,
  DeleteClientResponseSchema,
  GetClientResponseSchema,
  ListClientsResponseSchema,
  ReactivateClientResponseSchema,
  StartSecretRotationResponseSchema,
  UpdateClientResponseSchema,
} from "../gen/tessera/v1/client_admin_service_pb.js";
import { ClientStatus, SigningAlgorithm } from "../gen/tessera/v1/client_pb.js";
import { durationSeconds, keyValuePairs, positiveInteger, type OptionSpecs, type ParsedArgs } from "./args.js";
import { usageError } from "./cli-error.js";
import type { Command } from "./command.js";
import { algorithmFromWord, statusFromWord } from "./enum-words.js";
import { messageJson } from "./output.js";
import { clientView, clientsTable } from "./views.js";

/** The client-definition flags of create and update, each with the field (mask path) it sets. */
const DEFINITION_OPTIONS: OptionSpecs = {
  name: { type: "string", placeholder: "NAME", help: "Display name." },
  description: { type: "string", placeholder: "TEXT", help: "Free-form description." },
  scope: { type: "string", multiple: true, placeholder: "SCOPE", help: "A scope the client may request." },
  audience: { type: "string", multiple: true, placeholder: "URI", help: "An audience the client may request tokens for." },
  "default-scope": { type: "string", multiple: true, placeholder: "SCOPE", help: "A scope granted when a request names none (default: all scopes)." },
  "default-audience": { type: "string", multiple: true, placeholder: "URI", help: "An audience used when a request names none (default: the first)." },
  metadata: { type: "string", multiple: true, placeholder: "KEY=VALUE", help: "Trusted metadata (string values)." },
  "token-lifetime": { type: "string", placeholder: "DURATION", help: "Access token lifetime: 3600, 90s, 15m, 1h, 1d, or `default`." },
  alg: { type: "string", placeholder: "ALG", help: "Signing algorithm: RS256, PS256, ES256, EdDSA, or `default`." },
  "jwks-uri": { type: "string", placeholder: "URL", help: "https URL of the client's JWK Set for private_key_jwt (instead of inline keys); '' removes it." },
  "dpop-bound-access-tokens": { type: "string", placeholder: "true|false", help: "Require a DPoP proof (RFC 9449) on every token request of the client (default false)." },
  "token-endpoint-auth-method": {
    type: "string",
    placeholder: "METHOD",
    help: "How the client authenticates (RFC 7591): client_secret_basic, client_secret_post, private_key_jwt, spiffe_jwt, tls_client_auth, self_signed_tls_client_auth; '' unsets it.",
  },
  "tls-client-auth-subject-dn": { type: "string", placeholder: "DN", help: "tls_client_auth: the certificate's subject DN (RFC 4514, e.g. CN=billing,O=Example)." },
  "tls-client-auth-san-dns": { type: "string", placeholder: "NAME", help: "tls_client_auth: a DNS name the certificate's SANs must include." },
  "tls-client-auth-san-uri": { type: "string", placeholder: "URI", help: "tls_client_auth: a URI the certificate's SANs must include." },
  "tls-client-auth-san-ip": { type: "string", placeholder: "IP", help: "tls_client_auth: an IP address the certificate's SANs must include." },
  "tls-client-auth-san-email": { type: "string", placeholder: "EMAIL", help: "tls_client_auth: an email address the certificate's SANs must include." },
};

const MASK_PATHS: Readonly<Record<keyof typeof DEFINITION_OPTIONS, string>> = {
  name: "name",
  description: "description",
  scope: "scopes",
  audience: "audiences",
  "default-scope": "default_scopes",
  "default-audience": "default_audiences",
  metadata: "trusted_metadata",
  "token-lifetime": "token_lifetime",
  alg: "signing_algorithm",
  "jwks-uri": "jwks_uri",
  "dpop-bound-access-tokens": "dpop_bound_access_tokens",
  "token-endpoint-auth-method": "token_endpoint_auth_method",
  "tls-client-auth-subject-dn": "tls_client_auth_subject_dn",
  "tls-client-auth-san-dns": "tls_client_auth_san_dns",
  "tls-client-auth-san-uri": "tls_client_auth_san_uri",
  "tls-client-auth-san-ip": "tls_client_auth_san_ip",
  "tls-client-auth-san-email": "tls_client_auth_san_email",
};

const ETAG_OPTION: OptionSpecs = {
  etag: { type: "string", placeholder: "ETAG", help: "Act only if the client's etag is still this (else exit 4)." },
};

/** The Client fields the definition flags give; flags not given leave their field at its default. */
function definitionFields(args: ParsedArgs) {
  const lifetime = args.string("token-lifetime");
  const alg = args.string("alg");
  return {
    name: args.string("name") ?? "",
    description: args.string("description") ?? "",
    scopes: args.list("scope"),
    audiences: args.list("audience"),
    defaultScopes: args.list("default-scope"),
    defaultAudiences: args.list("default-audience"),
    trustedMetadata: keyValuePairs(args.list("metadata"), "metadata"),
    tokenLifetime: lifetime === undefined || lifetime === "default" ? undefined : { seconds: BigInt(durationSeconds(lifetime, "token-lifetime")) },
    signingAlgorithm: alg === undefined ? SigningAlgorithm.UNSPECIFIED : algorithmFromWord(alg, "alg"),
    jwksUri: args.string("jwks-uri") ?? "",
    dpopBoundAccessTokens: booleanWord(args.string("dpop-bound-access-tokens"), "dpop-bound-access-tokens"),
    tokenEndpointAuthMethod: args.string("token-endpoint-auth-method") ?? "",
    tlsClientAuthSubjectDn: args.string("tls-client-auth-subject-dn") ?? "",
    tlsClientAuthSanDns: args.string("tls-client-auth-san-dns") ?? "",
    tlsClientAuthSanUri: args.string("tls-client-auth-san-uri") ?? "",
    tlsClientAuthSanIp: args.string("tls-client-auth-san-ip") ?? "",
    tlsClientAuthSanEmail: args.string("tls-client-auth-san-email") ?? "",
  };
}

function booleanWord(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw usageError(`--${name} must be true or false`);
}

const SECRET_WARNING = "shown only this once: store it now";

const createClient: Command = {
  path: ["clients", "create"],
  summary: "Register a client and print its secret (once).",
  description: "Prints the new client, then its secret, which Tessera never shows again.",
  connects: true,
  options: {
    ...DEFINITION_OPTIONS,
    name: { ...DEFINITION_OPTIONS.name!, help: "Display name. Required." },
    id: { type: "string", placeholder: "ID", help: "The new client's id (3–128 of A-Za-z0-9._~-); generated if omitted. (--client-id is the admin's.)" },
  },
  async run({ args, admin }) {
    args.required("name");
    const response = await (await admin()).createClient({ ...definitionFields(args), clientId: args.string("id") ?? "" });
    return {
      json: messageJson(CreateClientResponseSchema, response),
      text: `${clientView(response.client!)}\n\nclient_secret (${SECRET_WARNING}):\n${response.clientSecret}`,
    };
  },
};

const listClients: Command = {
  path: ["clients", "list"],
  summary: "List clients, oldest first.",
  connects: true,
  options: {
    status: { type: "string", placeholder: "STATUS", help: "Only clients that are `active` or `inactive`." },
    "name-prefix": { type: "string", placeholder: "PREFIX", help: "Only clients whose name starts with this (case-sensitive)." },
    "page-size": { type: "string", placeholder: "N", help: "Clients per page (server default 50, at most 500)." },
    "page-token": { type: "string", placeholder: "TOKEN", help: "Continue from a previous page." },
    all: { type: "boolean", help: "Follow next_page_token to the end and print every client." },
  },
  async run({ args, admin }) {
    const status = args.string("status");
    const request = {
      pageSize: positiveInteger(args.string("page-size"), "page-size") ?? 0,
      pageToken: args.string("page-token") ?? "",
      status: status === undefined ? ClientStatus.UNSPECIFIED : statusFromWord(status, "status"),
      namePrefix: args.string("name-prefix") ?? "",
    };
    const api = await admin();
    let page = await api.listClients(request);
    const clients = [...page.clients];
    while (args.flag("all") && page.nextPageToken !== "") {
      page = await api.listClients({ ...request, pageToken: page.nextPageToken });
      clients.push(...page.clients);
    }
    const response = create(ListClientsResponseSchema, { clients, nextPageToken: page.nextPageToken, totalSize: page.totalSize });
    return {
      json: messageJson(ListClientsResponseSchema, response),
      text: clientsTable(clients),
      notes: page.nextPageToken ? [`${page.totalSize} clients match; for the next page add --page-token ${page.nextPageToken}, or use --all`] : [],
    };
  },
};

const getClient: Command = {
  path: ["clients", "get"],
  summary: "Show one client.",
  arguments: ["ID"],
  connects: true,
  options: {},
  async run({ args, admin }) {
    const response = await (await admin()).getClient({ clientId: args.positional(0) });
    return { json: messageJson(GetClientResponseSchema, response), text: clientView(response.client!) };
  },
};

const updateClient: Command = {
  path: ["clients", "update"],
  summary: "Change the fields given as flags; the others stay.",
  description: "Only the flags given are changed (they make the update mask). A repeatable flag replaces the whole list; give it an empty value (--scope '') to empty it. --metadata replaces all metadata. Default scopes and audiences must stay within scopes and audiences: narrowing --scope may need --default-scope too.",
  arguments: ["ID"],
  connects: true,
  options: { ...DEFINITION_OPTIONS, ...ETAG_OPTION },
  async run({ args, admin }) {
    const paths = Object.entries(MASK_PATHS)
      .filter(([flag]) => args.has(flag))
      .map(([, path]) => path);
    if (paths.length === 0) throw usageError(`nothing to update: give at least one of ${Object.keys(MASK_PATHS).map((flag) => `--${flag}`).join(", ")}`);
    const response = await (await admin()).updateClient({
      client: { ...definitionFields(args), clientId: args.positional(0), etag: args.string("etag") ?? "" },
      updateMask: { paths },
    });
    return { json: messageJson(UpdateClientResponseSchema, response), text: clientView(response.client!) };
  },
};

const deactivateClient: Command = {
  path: ["clients", "deactivate"],
  summary: "Stop a client at once: no new tokens, and its tokens stop verifying.",
  arguments: ["ID"],
  connects: true,
  options: ETAG_OPTION,
  async run({ args, admin }) {
    const response = await (await admin()).deactivateClient({ clientId: args.positional(0), etag: args.string("etag") ?? "" });
    return { json: messageJson(DeactivateClientResponseSchema, response), text: clientView(response.client!) };
  },
};

const reactivateClient: Command = {
  path: ["clients", "reactivate"],
  summary: "Put a deactivated client back in service.",
  arguments: ["ID"],
  connects: true,
  options: ETAG_OPTION,
  async run({ args, admin }) {
    const response = await (await admin()).reactivateClient({ clientId: args.positional(0), etag: args.string("etag") ?? "" });
    return { json: messageJson(ReactivateClientResponseSchema, response), text: clientView(response.client!) };
  },
};

const deleteClient: Command = {
  path: ["clients", "delete"],
  summary: "Delete a client and its secrets; its tokens stop verifying.",
  arguments: ["ID"],
  connects: true,
  options: ETAG_OPTION,
  async run({ args, admin }) {
    const clientId = args.positional(0);
    const response = await (await admin()).deleteClient({ clientId, etag: args.string("etag") ?? "" });
    return { json: messageJson(DeleteClientResponseSchema, response), text: `deleted client ${clientId}` };
  },
};

const rotateSecret: Command = {
  path: ["clients", "rotate-secret"],
  summary: "Start a secret rotation (prints the new secret), or --complete / --cancel it.",
  description:
    "Without flags, creates a second secret and prints it once; both secrets work until --complete retires the old one. --cancel drops the new secret instead.",
  arguments: ["ID"],
  connects: true,
  options: {
    complete: { type: "boolean", help: "Retire the old secret; only the new one works afterwards." },
    cancel: { type: "boolean", help: "Drop the new secret; the old one stays." },
  },
  async run({ args, admin }) {
    const clientId = args.positional(0);
    if (args.flag("complete") && args.flag("cancel")) throw usageError("give --complete or --cancel, not both");
    const api = await admin();
    if (args.flag("complete")) {
      const response = await api.completeSecretRotation({ clientId });
      return { json: messageJson(CompleteSecretRotationResponseSchema, response), text: clientView(response.client!) };
    }
    if (args.flag("cancel")) {
      const response = await api.cancelSecretRotation({ clientId });
      return { json: messageJson(CancelSecretRotationResponseSchema, response), text: clientView(response.client!) };
    }
    const response = await api.startSecretRotation({ clientId });
    return {
      json: messageJson(StartSecretRotationResponseSchema, response),
      text: `${clientView(response.client!)}\n\nnew client_secret (${SECRET_WARNING}; the old one works until --complete):\n${response.clientSecret}`,
    };
  },
};

export const CLIENT_COMMANDS: readonly Command[] = [
  createClient,
  listClients,
  getClient,
  updateClient,
  deactivateClient,
  reactivateClient,
  deleteClient,
  rotateSecret,
];
