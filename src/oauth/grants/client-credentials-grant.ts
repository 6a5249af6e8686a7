/**
 * The client credentials grant (RFC 6749 §4.4): the authenticated client gets a token for
 * itself, with scopes from its allowance (§3.3) and audiences from its allowed resources
 * (RFC 8707 §2). No refresh token by default (§4.4.3).
 */
import type { Client, ClientRecord } from "../../clients/client.js";
import type { ScopePolicy } from "../../config/config.js";
import { TesseraError } from "../../errors.js";
import type { AccessTokenIssuer } from "../access-token-issuer.js";
import type { RefreshTokens } from "../refresh-tokens.js";
import type { TokenRequest, TokenResponse } from "../token-request.js";
import { tokenResponse, type GrantHandler } from "./grant-handler.js";

export class ClientCredentialsGrant implements GrantHandler {
  readonly grantType = "client_credentials";

  constructor(private readonly options: { issuer: AccessTokenIssuer; scopePolicy: ScopePolicy; refreshTokens: RefreshTokens }) {}

  async handle(request: TokenRequest, record: ClientRecord): Promise<TokenResponse> {
    const { client } = record;
    const scopes = grantScopes(client, request.scopes, this.options.scopePolicy);
    const audiences = grantAudiences(client, request.audiences);
    const issued = await this.options.issuer.issue({ client, scopes, audiences });
    // Opt-in only: RFC 6749 §4.4.3 says a refresh token SHOULD NOT be included by default.
    const refreshToken = client.refreshTokensEnabled
      ? await this.options.refreshTokens.startChain(record, { scopes, audiences, accessToken: issued })
      : undefined;
    return tokenResponse({ record, grantType: this.grantType, issued, scopes, audiences, refreshToken });
  }
}

/**
 * RFC 6749 §3.3: absent scope → the client's default scopes. A requested scope outside the
 * allowance is invalid_scope under the strict policy (no silent widening or narrowing); the
 * narrow policy grants the allowed subset and fails only when nothing is left.
 */
export function grantScopes(client: Client, requested: readonly string[] | undefined, policy: ScopePolicy): string[] {
  if (requested === undefined) return [...client.defaultScopes];
  const allowed = new Set(client.allowedScopes);
  const unique = [...new Set(requested)];
  const granted = unique.filter((scope) => allowed.has(scope));
  if (policy === "strict" && granted.length !== unique.length) {
    const refused = unique.filter((scope) => !allowed.has(scope));
    throw new TesseraError("invalid_scope", `scope not allowed for this client: ${refused.slice(0, 10).join(" ")}`);
  }
  if (granted.length === 0) throw new TesseraError("invalid_scope", "none of the requested scopes is allowed for this client");
  return granted;
}

/** RFC 8707 §2: each requested resource must be one the client may get tokens for. */
export function grantAudiences(client: Client, requested: readonly string[]): string[] {
  if (requested.length === 0) return [...client.defaultAudiences];
  const allowed = new Set(client.allowedAudiences);
  const unique = [...new Set(requested)];
  const refused = unique.filter((audience) => !allowed.has(audience));
  if (refused.length > 0) {
    throw new TesseraError("invalid_target", `audience not allowed for this client: ${refused.slice(0, 5).join(" ")}`);
  }
  return unique;
}
