/**
 * Finding an issuer's token endpoint from its metadata (RFC 8414), so a token source needs only
 * the issuer identifier and works against any authorization server that publishes metadata.
 */
import { TokenError } from "./token-error.js";

/** The members of RFC 8414 §2 the token source uses; others are kept as they came. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly grant_types_supported?: readonly string[];
  readonly [member: string]: unknown;
}

/**
 * RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. OpenID
 * Connect Discovery 1.0 §4 appends its own to the issuer instead; issuers that only publish that
 * one (many OpenID providers) are found by the second URL.
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/+$/, "");
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

export async function discoverMetadata(options: {
  readonly issuer: string;
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
}): Promise<AuthorizationServerMetadata> {
  let lastError: TokenError | undefined;
  for (const url of metadataUrls(options.issuer)) {
    let response: Response;
    try {
      response = await options.fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (error) {
      throw new TokenError("temporarily_unavailable", `cannot fetch the metadata of ${options.issuer}`, { reason: "unreachable", cause: error });
    }
    const text = await response.text();
    if (response.status === 404) {
      lastError = new TokenError("server_error", `${options.issuer} publishes no authorization server metadata`, { reason: "unexpected_answer", status: 404 });
      continue;
    }
    if (!response.ok) {
      throw new TokenError(response.status >= 500 ? "temporarily_unavailable" : "server_error", `HTTP ${response.status} for ${url}`, { reason: "unexpected_answer", status: response.status });
    }
    let metadata: Partial<AuthorizationServerMetadata>;
    try {
      metadata = JSON.parse(text) as Partial<AuthorizationServerMetadata>;
    } catch (error) {
      throw new TokenError("server_error", `the metadata at ${url} is not JSON`, { reason: "unexpected_answer", status: response.status, cause: error });
    }
    // RFC 8414 §3.3: the metadata must name the issuer it was asked for, or it is someone
    // else's and its token endpoint must not receive our credentials.
    if (metadata?.issuer !== options.issuer) {
      throw new TokenError("server_error", `the metadata at ${url} names issuer ${JSON.stringify(metadata?.issuer)}, not ${options.issuer}`, { reason: "unexpected_answer", status: response.status });
    }
    if (typeof metadata.token_endpoint !== "string") {
      throw new TokenError("server_error", `the metadata of ${options.issuer} has no token_endpoint`, { reason: "unexpected_answer", status: response.status });
    }
    return metadata as AuthorizationServerMetadata;
  }
  throw lastError!;
}
