/**
 * A grant is one module behind this interface; the token endpoint dispatches on grant_type
 * through a map, so adding a grant never edits another.
 */
import type { ClientRecord } from "../../clients/client.js";
import type { TokenRequest, TokenResponse } from "../token-request.js";

export interface GrantHandler {
  readonly grantType: string;
  /** Runs the grant for an already authenticated client. */
  handle(request: TokenRequest, client: ClientRecord): Promise<TokenResponse>;
}
