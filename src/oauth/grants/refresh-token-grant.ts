/**
 * The refresh token grant (RFC 6749 §6) for clients that opted in: the authenticated client
 * redeems its refresh token for a new access token and the token's successor, never getting more
 * than it is allowed at the time of the redemption.
 */
import type { ClientRecord } from "../../clients/client.js";
import { TesseraError } from "../../errors.js";
import type { AccessTokenIssuer } from "../access-token-issuer.js";
import type { RefreshTokens } from "../refresh-tokens.js";
import type { TokenRequest, TokenResponse } from "../token-request.js";
import { tokenResponse, type GrantHandler } from "./grant-handler.js";

export class RefreshTokenGrant implements GrantHandler {
  readonly grantType = "refresh_token";

  constructor(private readonly options: { issuer: AccessTokenIssuer; refreshTokens: RefreshTokens }) {}

  async handle(request: TokenRequest, record: ClientRecord): Promise<TokenResponse> {
    if (!request.refreshToken) throw new TesseraError("invalid_request", "refresh_token is required");
    const { accessToken, refreshToken, scopes, audiences } = await this.options.refreshTokens.redeem(record, request.refreshToken, {
      scopes: request.scopes,
      audiences: request.audiences,
      issueAccessToken: (grant) => this.options.issuer.issue({ client: record.client, ...grant }),
    });
    return tokenResponse({ record, grantType: this.grantType, issued: accessToken, scopes, audiences, refreshToken });
  }
}
