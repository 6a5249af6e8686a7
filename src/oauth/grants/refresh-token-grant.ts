/**
 * The refresh token grant (RFC 6749 §6) for clients that opted in: the authenticated client
 * redeems its refresh token for a new access token and the token's successor, never getting more
 * than it is allowed at the time of the redemption.
 */
import { TesseraError } from "../../errors.js";
import type { RefreshTokens } from "../refresh-tokens.js";
import type { Grant } from "../token/grant.js";
import { parameterValue } from "../token/token-request.js";
import { tokenResponse } from "../token/token-response.js";

export function refreshTokenGrant(options: { refreshTokens: RefreshTokens }) {
  return {
    grantType: "refresh_token",
    parameters: ["refresh_token"],
    clientAuthentication: "required",
    async handle(context) {
      const { client: record, request } = context;
      const presented = parameterValue(request.parameters, "refresh_token");
      if (!presented) throw new TesseraError("invalid_request", "refresh_token is required");
      const { accessToken, refreshToken, scopes, audiences } = await options.refreshTokens.redeem(record, presented, {
        scopes: request.scopes,
        audiences: request.audiences,
        issueAccessToken: (grant) => context.issueAccessToken({ client: record.client, ...grant }),
      });
      return tokenResponse({ record, grantType: "refresh_token", issued: accessToken, scopes, audiences, refreshToken });
    },
  } as const satisfies Grant<"required">;
}
