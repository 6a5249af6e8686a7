/**
 * The transport-free answer of the token endpoint (RFC 6749 §5.1), which each transport writes
 * out as JSON or as an IssueTokenResponse.
 */
import type { ClientRecord } from "../../clients/client.js";
import type { IssuedAccessToken } from "../access-token-issuer.js";

/** RFC 6750 Bearer, or RFC 9449 §5 DPoP when the token is bound to the caller's DPoP key. */
export type AccessTokenType = "Bearer" | "DPoP";

export interface TokenResponse {
  /** Who got the token, how it was signed and by which grant: for metrics and logs. */
  readonly clientId: string;
  readonly alg: string;
  readonly grantType: string;
  readonly accessToken: string;
  readonly tokenType: AccessTokenType;
  readonly expiresIn: number;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly expireTime: Date;
  readonly refreshToken?: string | undefined;
  /** RFC 8693 §2.2.1 `issued_token_type`, for grants that exchange tokens. */
  readonly issuedTokenType?: string | undefined;
  /** Further members of the answer, written after the standard ones (RFC 6749 §5.1 allows them). */
  readonly extra?: Readonly<Record<string, string>> | undefined;
}

/** The answer a grant gives once its access token is signed (RFC 6749 §5.1). */
export function tokenResponse(input: {
  record: ClientRecord;
  grantType: string;
  issued: IssuedAccessToken;
  scopes: readonly string[];
  audiences: readonly string[];
  refreshToken: string | undefined;
}): TokenResponse {
  return {
    clientId: input.record.client.id,
    alg: input.issued.alg,
    grantType: input.grantType,
    accessToken: input.issued.token,
    tokenType: "Bearer",
    expiresIn: input.issued.expiresIn,
    scopes: input.scopes,
    audiences: input.audiences,
    expireTime: input.issued.expireTime,
    refreshToken: input.refreshToken,
  };
}
