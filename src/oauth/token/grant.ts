/**
 * A grant is one module of this shape (RFC 6749 §4, §6; RFC 8693; RFC 7523 §2.1), registered by
 * grant type in the token endpoint's map: adding a grant never edits another, nor a transport.
 */
import type { ClientRecord } from "../../clients/client.js";
import type { AccessTokenInput, IssuedAccessToken } from "../access-token-issuer.js";
import type { TokenRequest } from "./token-request.js";
import type { TokenResponse } from "./token-response.js";

/**
 * Who authenticates the caller before the grant runs (RFC 6749 §3.2.1):
 * - `required`: the pipeline authenticates the client; the grant never runs without one.
 * - `optional`: the pipeline authenticates the client when credentials were presented.
 * - `grant`: the grant identifies the caller itself, e.g. by its own assertion (RFC 7523 §2.1);
 *   the pipeline checks nothing and leaves `request.credentials` to the grant.
 */
export type GrantClientAuthentication = "required" | "optional" | "grant";

/** What a grant gets to work with, for one request. */
export interface GrantContext<Authentication extends GrantClientAuthentication = GrantClientAuthentication> {
  readonly request: TokenRequest;
  /** The authenticated client; always there for `required` grants, never for `grant` ones. */
  readonly client: Authentication extends "required" ? ClientRecord : ClientRecord | undefined;
  /**
   * Signs the access token, after the token extensions (sender constraint, …) added their claims.
   * Grants issue through here, never through the issuer directly.
   */
  issueAccessToken(input: AccessTokenInput): Promise<IssuedAccessToken>;
}

export interface Grant<Authentication extends GrantClientAuthentication = GrantClientAuthentication> {
  /** RFC 6749 `grant_type` this module answers: a registered name or an absolute URI (§4.5). */
  readonly grantType: string;
  /**
   * The request parameters the grant reads, besides `grant_type`, client authentication, scope
   * and audiences. Others are ignored, as RFC 6749 §3.2 asks; this list documents the grant.
   */
  readonly parameters: readonly string[];
  readonly clientAuthentication: Authentication;
  handle(context: GrantContext<Authentication>): Promise<TokenResponse>;
}
