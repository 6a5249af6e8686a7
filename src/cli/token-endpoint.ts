/**
 * The CLI's tokens from Tessera's `POST /oauth/token` (client credentials grant, RFC 6749 §4.4)
 * through tessera/client's token source, used for the admin token every admin command needs and
 * by `tessera token`. OAuth errors (RFC 6749 §5.2) become CliErrors with the same code an RPC
 * caller would see for them.
 */
import type { KeyObject } from "node:crypto";
import { createTokenSource, TokenError, type TokenSource } from "../client/index.js";
import { CliError, type FailureCode } from "./cli-error.js";

/** How long any one request to the server may take. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** RFC 6749 §5.1, as Tessera answers it. */
export interface TokenEndpointResponse {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in?: number;
  readonly scope?: string;
  readonly refresh_token?: string;
}

export interface TokenRequestOptions {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes?: readonly string[];
  /** Sent as RFC 8707 `resource` parameters. */
  readonly audiences?: readonly string[];
  /** Binds the token to this key (RFC 9449 DPoP). */
  readonly dpopKey?: KeyObject;
}

/** The OAuth error → code table of Tessera's RPC API (README, "Endpoints"), so exit codes agree. */
const OAUTH_ERROR_CODES: Readonly<Record<string, FailureCode>> = {
  invalid_request: "invalid_argument",
  unsupported_grant_type: "invalid_argument",
  invalid_grant: "invalid_argument",
  invalid_client: "unauthenticated",
  invalid_token: "unauthenticated",
  invalid_dpop_proof: "unauthenticated",
  use_dpop_nonce: "unauthenticated",
  invalid_scope: "permission_denied",
  invalid_target: "permission_denied",
  unauthorized_client: "permission_denied",
  insufficient_scope: "permission_denied",
  temporarily_unavailable: "unavailable",
  too_many_requests: "resource_exhausted",
  server_error: "internal",
};

/** For answers without a known OAuth error code, e.g. from a proxy in front of Tessera. */
function codeForStatus(status: number): FailureCode {
  if (status === 400) return "invalid_argument";
  if (status === 401) return "unauthenticated";
  if (status === 403) return "permission_denied";
  if (status === 404) return "not_found";
  if (status === 429) return "resource_exhausted";
  if (status === 502 || status === 503 || status === 504) return "unavailable";
  return "unknown";
}

/** A token source for the CLI's credentials at Tessera's token endpoint (tessera/client). */
export function cliTokenSource(options: TokenRequestOptions): TokenSource {
  return createTokenSource({
    tokenEndpoint: `${options.baseUrl}/oauth/token`,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    scopes: options.scopes ?? [],
    audience: options.audiences ?? [],
    timeoutMs: REQUEST_TIMEOUT_MS,
    ...(options.dpopKey ? { dpopKey: options.dpopKey } : {}),
  });
}

/** The token source's refusal as a CliError with the code an RPC caller would see for it. */
export function tokenFailure(baseUrl: string, error: unknown): CliError {
  if (!(error instanceof TokenError)) return new CliError("unknown", String(error));
  if (error.reason === "unreachable") return connectionFailure(baseUrl, error.cause);
  const code = (error.reason === "refused" && OAUTH_ERROR_CODES[error.error]) || codeForStatus(error.status ?? 0);
  const message = error.reason === "refused" ? `${error.error}${error.errorDescription ? `: ${error.errorDescription}` : ""}` : `HTTP ${error.status} from ${baseUrl}/oauth/token`;
  return new CliError(code, message);
}

/** One token and the whole RFC 6749 §5.1 answer, for `tessera token`. */
export async function requestToken(options: TokenRequestOptions): Promise<TokenEndpointResponse> {
  const source = cliTokenSource(options);
  try {
    return (await source.getIssuedToken()).response as unknown as TokenEndpointResponse;
  } catch (error) {
    throw tokenFailure(options.baseUrl, error);
  } finally {
    source.close();
  }
}

/** A request that got no HTTP answer at all: refused, unresolvable, reset, or timed out. */
export function connectionFailure(baseUrl: string, error: unknown): CliError {
  if (error instanceof Error && error.name === "TimeoutError") {
    return new CliError("deadline_exceeded", `no answer from ${baseUrl} within ${REQUEST_TIMEOUT_MS / 1000} s`);
  }
  // fetch reports "fetch failed" and puts the socket error in `cause` (an AggregateError when
  // every address of a name was tried).
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const reason = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" && cause.message ? cause.message : String(error);
  return new CliError("unavailable", `cannot connect to ${baseUrl}: ${reason}`);
}
