/**
 * Where the server is and who the CLI is: flags first, then environment variables. Admin
 * commands exchange the credentials for an access token at `/oauth/token` and call
 * tessera.v1.ClientAdminService or tessera.v1.FederationService over Connect with it.
 */
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ClientAdminService } from "../gen/tessera/v1/client_admin_service_pb.js";
import { FederationService } from "../gen/tessera/v1/federation_service_pb.js";
import type { OptionSpecs, ParsedArgs } from "./args.js";
import { CliError, usageError } from "./cli-error.js";
import { bearerInterceptor } from "../client/index.js";
import { REQUEST_TIMEOUT_MS, cliTokenSource, tokenFailure } from "./token-endpoint.js";

export type CliEnv = Readonly<Record<string, string | undefined>>;

export const DEFAULT_URL = "http://localhost:8080";

export const CONNECTION_OPTIONS: OptionSpecs = {
  url: { type: "string", placeholder: "URL", help: `Tessera's base URL (env TESSERA_URL; default ${DEFAULT_URL}).` },
  "client-id": {
    type: "string",
    placeholder: "ID",
    help: "Client to authenticate as (env TESSERA_CLIENT_ID, or TESSERA_ADMIN_CLIENT_ID).",
  },
  "client-secret": {
    type: "string",
    placeholder: "SECRET",
    help: "Its secret (env TESSERA_CLIENT_SECRET, or TESSERA_ADMIN_CLIENT_SECRET; flags show in ps).",
  },
};

export interface ConnectionSettings {
  /** Without a trailing slash. */
  readonly baseUrl: string;
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
}

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

export type AdminApi = Client<typeof ClientAdminService>;
export type FederationApi = Client<typeof FederationService>;

export function connectionSettings(args: ParsedArgs, env: CliEnv): ConnectionSettings {
  // An empty variable counts as unset, as `VAR= tessera …` means to unset it.
  const fromEnv = (...names: string[]) => names.map((name) => env[name]).find((value) => value !== undefined && value !== "");
  const url = args.string("url") ?? fromEnv("TESSERA_URL") ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--url must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw usageError(`--url must be an http or https URL, got ${JSON.stringify(url)}`);
  return {
    baseUrl: url.replace(/\/+$/, ""),
    clientId: args.string("client-id") ?? fromEnv("TESSERA_CLIENT_ID", "TESSERA_ADMIN_CLIENT_ID"),
    clientSecret: args.string("client-secret") ?? fromEnv("TESSERA_CLIENT_SECRET", "TESSERA_ADMIN_CLIENT_SECRET"),
  };
}

export function requireCredentials(settings: ConnectionSettings): ClientCredentials {
  const { clientId, clientSecret } = settings;
  if (!clientId || !clientSecret) {
    throw usageError("no client credentials: give --client-id and --client-secret, or set TESSERA_CLIENT_ID and TESSERA_CLIENT_SECRET");
  }
  return { clientId, clientSecret };
}

/** A ClientAdminService client that sends an access token for the configured credentials. */
export function connectAdminApi(settings: ConnectionSettings): Promise<AdminApi> {
  return connectService(ClientAdminService, settings);
}

/** A FederationService client that sends an access token for the configured credentials. */
export function connectFederationApi(settings: ConnectionSettings): Promise<FederationApi> {
  return connectService(FederationService, settings);
}

async function connectService<T extends DescService>(service: T, settings: ConnectionSettings): Promise<Client<T>> {
  const credentials = requireCredentials(settings);
  const source = cliTokenSource({ baseUrl: settings.baseUrl, ...credentials });
  // Asked for at once, so wrong credentials fail before any command runs; the interceptor then
  // reuses the cached token, renewed if a long command (`--all` over many pages) outlives it.
  try {
    await source.getToken();
  } catch (error) {
    const failure = tokenFailure(settings.baseUrl, error);
    if (failure.code !== "unavailable" && failure.code !== "deadline_exceeded") {
      throw new CliError(failure.code, `could not get an admin token for ${credentials.clientId}: ${failure.message}`);
    }
    throw failure;
  }
  const transport = createConnectTransport({
    baseUrl: settings.baseUrl,
    httpVersion: "1.1",
    interceptors: [bearerInterceptor(source)],
    defaultTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  return createClient(service, transport);
}
