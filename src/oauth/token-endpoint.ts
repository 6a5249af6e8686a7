/**
 * The token endpoint's logic, shared by POST /oauth/token and TokenService.IssueToken:
 * check the grant type, authenticate the client, dispatch to the grant (RFC 6749 §3.2).
 */
import { TesseraError } from "../errors.js";
import type { ClientAuthenticator } from "./client-authentication/client-authenticator.js";
import type { GrantHandler } from "./grants/grant-handler.js";
import type { TokenRequest, TokenResponse } from "./token-request.js";

export class TokenEndpoint {
  private readonly grants: ReadonlyMap<string, GrantHandler>;

  constructor(
    private readonly options: {
      authenticator: ClientAuthenticator;
      grants: readonly GrantHandler[];
      /** Refuses service when in-memory state can no longer be trusted (database gone too long). */
      availability?: { assertFresh(): void };
    },
  ) {
    this.grants = new Map(options.grants.map((grant) => [grant.grantType, grant]));
  }

  get grantTypes(): string[] {
    return [...this.grants.keys()];
  }

  async issue(request: TokenRequest): Promise<TokenResponse> {
    this.options.availability?.assertFresh();
    if (!request.grantType) throw new TesseraError("invalid_request", "grant_type is required");
    const grant = this.grants.get(request.grantType);
    if (!grant) throw new TesseraError("unsupported_grant_type", "grant_type is not supported");
    const client = await this.options.authenticator.authenticate(request.credentials, request.origin);
    return grant.handle(request, client);
  }
}
