/**
 * A grant is one module behind this interface; the token endpoint dispatches on grant_type
 * through a map, so adding a grant never edits another.
 */
import type { ClientRecord } from "../../clients/client.js";
import type { IssuedAccessToken } from "../access-token-issuer.js";
import type { TokenRequest, TokenResponse } from "../token-request.js";

export interface GrantHandler {
  readonly grantType: string;
  /** Runs the grant for an already authenticated client. */
  handle(request: TokenRequest, client: ClientRecord): Promise<TokenResponse>;
}

/** The answer every grant gives once its access token is signed (RFC 6749 §5.1). */
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
