/**
 * A client of Tessera's `POST /oauth/token` (client credentials grant, RFC 6749 §4.4), used for
 * the admin token every admin command needs and by `tessera token`. OAuth errors (RFC 6749
 * §5.2) become CliErrors with the same code an RPC caller would see for them.
 */
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
}

/** The OAuth error → code table of Tessera's RPC API (README, "Endpoints"), so exit codes agree. */
const OAUTH_ERROR_CODES: Readonly<Record<string, FailureCode>> = {
  invalid_request: "invalid_argument",
  unsupported_grant_type: "invalid_argument",
  invalid_grant: "invalid_argument",
  invalid_client: "unauthenticated",
  invalid_token: "unauthenticated",
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

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString("base64")}`;
}

export async function requestToken(options: TokenRequestOptions): Promise<TokenEndpointResponse> {
  const body = new URLSearchParams({ grant_type: "client_credentials" });
  if (options.scopes && options.scopes.length > 0) body.set("scope", options.scopes.join(" "));
  for (const audience of options.audiences ?? []) body.append("resource", audience);
  let response: Response;
  try {
    response = await fetch(`${options.baseUrl}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        authorization: basicAuthorization(options.clientId, options.clientSecret),
      },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw connectionFailure(options.baseUrl, error);
  }
  const text = await response.text();
  const answer = parseJsonObject(text);
  if (response.ok && answer && typeof answer.access_token === "string") return answer as unknown as TokenEndpointResponse;
  const oauthError = typeof answer?.error === "string" ? answer.error : undefined;
  const description = typeof answer?.error_description === "string" ? answer.error_description : undefined;
  const code = (oauthError && OAUTH_ERROR_CODES[oauthError]) || codeForStatus(response.status);
  const message = oauthError ? `${oauthError}${description ? `: ${description}` : ""}` : `HTTP ${response.status} from ${options.baseUrl}/oauth/token`;
  throw new CliError(code, message);
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

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
