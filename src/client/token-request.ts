/**
 * One token request over HTTP: `POST` to the token endpoint (RFC 6749 §4.4 client credentials, or
 * RFC 7523 §2.1 jwt-bearer when the source federates an external assertion), answered by §5.1
 * JSON or a §5.2 error. No caching or retrying here; the token source does that.
 */
import { TokenError } from "./token-error.js";
import { JWT_BEARER_ASSERTION_TYPE, basicAuthorization } from "./client-authentication.js";
import type { DpopProofSigner } from "./dpop.js";

export const JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** What one token is asked for. */
export interface TokenRequestParameters {
  readonly scopes: readonly string[];
  /** RFC 8707 `resource` values: the audiences the token is for. */
  readonly audiences: readonly string[];
}

/** How the client authenticates this one request. */
export type PresentedCredential =
  | { readonly method: "client_secret_basic" | "client_secret_post"; readonly clientId: string; readonly clientSecret: string }
  | { readonly method: "private_key_jwt"; readonly clientId: string; readonly clientAssertion: string }
  /** Only the client id: a public client, or a jwt-bearer grant whose assertion identifies the caller. */
  | { readonly method: "none"; readonly clientId: string };

export interface TokenGrant {
  readonly grantType: "client_credentials" | typeof JWT_BEARER_GRANT_TYPE;
  /** For jwt-bearer: the external JWT (RFC 7523 §2.1 `assertion`). */
  readonly assertion?: string;
}

/** An issued access token, as the token source hands it out. */
export interface IssuedToken {
  readonly accessToken: string;
  /** `Bearer` (or `DPoP` for sender-constrained tokens). */
  readonly tokenType: string;
  /** RFC 6749 §5.1 `expires_in`, seconds; undefined when the issuer left it out. */
  readonly expiresIn: number | undefined;
  /** The granted scopes, when the issuer said (RFC 6749 §5.1 `scope`). */
  readonly scopes: readonly string[] | undefined;
  /** The whole answer as it came: JSON members over HTTP, the response message's fields over gRPC. */
  readonly response: Readonly<Record<string, unknown>>;
}

export interface TokenRequest {
  readonly grant: TokenGrant;
  readonly credential: PresentedCredential;
  readonly parameters: TokenRequestParameters;
  /** Binds the token to this signer's key (RFC 9449): a fresh proof per attempt. */
  readonly dpop?: DpopProofSigner | undefined;
}

/** Sends one token request; throws TokenError. */
export type TokenRequester = (request: TokenRequest) => Promise<IssuedToken>;

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function httpTokenRequester(options: { readonly tokenEndpoint: () => Promise<string>; readonly fetch: typeof fetch; readonly timeoutMs: number }): TokenRequester {
  return async ({ grant, credential, parameters, dpop }) => {
    const tokenEndpoint = await options.tokenEndpoint();
    const body = new URLSearchParams({ grant_type: grant.grantType });
    if (grant.assertion !== undefined) body.set("assertion", grant.assertion);
    if (parameters.scopes.length > 0) body.set("scope", parameters.scopes.join(" "));
    for (const audience of parameters.audiences) body.append("resource", audience);
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    switch (credential.method) {
      case "client_secret_basic":
        headers.authorization = basicAuthorization(credential.clientId, credential.clientSecret);
        break;
      case "client_secret_post":
        body.set("client_id", credential.clientId);
        body.set("client_secret", credential.clientSecret);
        break;
      case "private_key_jwt":
        body.set("client_id", credential.clientId);
        body.set("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
        body.set("client_assertion", credential.clientAssertion);
        break;
      case "none":
        body.set("client_id", credential.clientId);
        break;
    }
    const send = async (nonce: string | undefined) => {
      if (dpop) headers.dpop = await dpop({ method: "POST", url: tokenEndpoint, nonce });
      try {
        const response = await options.fetch(tokenEndpoint, { method: "POST", headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
        return { response, answer: parseJsonObject(await response.text()) };
      } catch (error) {
        throw new TokenError("temporarily_unavailable", `cannot reach ${tokenEndpoint}`, { reason: "unreachable", cause: error });
      }
    };
    let { response, answer } = await send(undefined);
    // RFC 9449 §8: the server asks for its nonce; one more proof carrying it.
    const nonce = response.headers.get("dpop-nonce");
    if (dpop && answer?.error === "use_dpop_nonce" && nonce) ({ response, answer } = await send(nonce));
    if (response.ok && answer && typeof answer.access_token === "string" && typeof answer.token_type === "string") {
      const expiresIn = typeof answer.expires_in === "number" && Number.isFinite(answer.expires_in) && answer.expires_in > 0 ? answer.expires_in : undefined;
      return {
        accessToken: answer.access_token,
        tokenType: answer.token_type,
        expiresIn,
        scopes: typeof answer.scope === "string" ? answer.scope.split(" ").filter(Boolean) : undefined,
        response: answer,
      };
    }
    if (typeof answer?.error === "string") {
      const description = typeof answer.error_description === "string" ? answer.error_description : undefined;
      throw new TokenError(answer.error, `${answer.error}${description ? `: ${description}` : ""}`, { reason: "refused", errorDescription: description, status: response.status });
    }
    const error = response.status === 429 ? "too_many_requests" : response.status >= 500 ? "temporarily_unavailable" : "server_error";
    throw new TokenError(error, `HTTP ${response.status} from ${tokenEndpoint} without an OAuth answer`, { reason: "unexpected_answer", status: response.status });
  };
}
