/**
 * The transport-free shape of a token request and its answer. The HTTP gateway builds a
 * TokenRequest from a form or JSON body, the Connect TokenService from an IssueTokenRequest;
 * both get back a TokenResponse or a TesseraError.
 */

import type { RequestOrigin } from "./abuse-limits.js";

export type ClientAuthenticationMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt";

/** The credentials as presented, before they are checked. */
export interface PresentedClientCredentials {
  readonly method: ClientAuthenticationMethod;
  readonly clientId: string | undefined;
  readonly clientSecret?: string | undefined;
  /**
   * client_secret_basic only: the secret as sent, when form-decoding it (RFC 6749 §2.3.1)
   * changed it; checked when `clientSecret` does not match, for clients that send it raw.
   */
  readonly rawClientSecret?: string | undefined;
  readonly clientAssertion?: string | undefined;
  readonly clientAssertionType?: string | undefined;
}

export interface TokenRequest {
  /** Where the request came from, for rate limits and the lockout. */
  readonly origin?: RequestOrigin | undefined;
  /** RFC 6749 `grant_type`; undefined when missing. */
  readonly grantType: string | undefined;
  /** undefined when the request carried no client authentication at all. */
  readonly credentials: PresentedClientCredentials | undefined;
  /** Requested scopes; undefined when the request named none (RFC 6749 §3.3). */
  readonly scopes: readonly string[] | undefined;
  /** Requested audiences (RFC 8707 `resource`, or `audience`); empty when none. */
  readonly audiences: readonly string[];
  readonly refreshToken?: string | undefined;
}

export interface TokenResponse {
  /** Who got the token, how it was signed and by which grant: for metrics and logs. */
  readonly clientId: string;
  readonly alg: string;
  readonly grantType: string;
  readonly accessToken: string;
  readonly tokenType: "Bearer";
  readonly expiresIn: number;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly expireTime: Date;
  readonly refreshToken?: string | undefined;
}

/** RFC 6749 §3.3: scope is a space-delimited list; an empty value names no scope. */
export function parseScopeParameter(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const scopes = scope.split(" ").filter((value) => value.length > 0);
  return scopes.length > 0 ? scopes : undefined;
}
