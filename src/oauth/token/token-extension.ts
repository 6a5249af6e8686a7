/**
 * A token extension is a step after the grant that every grant shares, such as binding the
 * token to the caller's key (RFC 9449 DPoP `cnf.jkt`, RFC 8705 `cnf.x5t#S256`): one module per
 * concern, run in registration order, never a branch inside the grants.
 */
import type { JwtClaims } from "../../keys/jwt.js";
import type { AccessTokenInput } from "../access-token-issuer.js";
import type { GrantContext } from "./grant.js";
import type { TokenResponse } from "./token-response.js";

export interface TokenExtension {
  /** For logs and tests: what the extension does, e.g. "dpop". */
  readonly name: string;
  /**
   * Claims to add to an access token before it is signed (e.g. `cnf`), or undefined for none.
   * Reads the request's proof material; throws a TesseraError to refuse the request. `input` is
   * what the grant asked to sign (its client is the token's, also for grants that identify the
   * caller themselves). The `cnf` objects of several extensions are merged, not overwritten.
   */
  accessTokenClaims?(context: GrantContext, input: AccessTokenInput): JwtClaims | undefined | Promise<JwtClaims | undefined>;
  /** Adjusts the answer once the grant is done, e.g. `token_type` DPoP (RFC 9449 §5) or extra members. */
  response?(context: GrantContext, response: TokenResponse): TokenResponse;
}
