/**
 * The DPoP token extension (RFC 9449 §5, §6): a request carrying a `DPoP` proof for the token
 * endpoint gets an access token bound to the proof's key (`cnf.jkt`) and `token_type: DPoP`; a
 * client registered with `dpop_bound_access_tokens` (RFC 9449 §5.2) gets nothing without one.
 * Every grant goes through it, refresh and token exchange included.
 */
import { TesseraError } from "../../errors.js";
import type { AccessTokenInput } from "../access-token-issuer.js";
import type { GrantContext } from "../token/grant.js";
import type { TokenExtension } from "../token/token-extension.js";
import type { TokenRequest } from "../token/token-request.js";
import type { TokenResponse } from "../token/token-response.js";
import type { DpopProofChecker } from "./dpop-proof-checker.js";

export function dpopExtension(options: { checker: DpopProofChecker }): TokenExtension {
  // One check per request, even when a grant signs more than once; the thumbprint then marks
  // the answer as DPoP. Keyed by the request object, so nothing outlives it.
  const checked = new WeakMap<TokenRequest, Promise<{ cnf: { jkt: string } }>>();
  const bound = new WeakSet<TokenRequest>();
  return {
    name: "dpop",
    // Not async: a request without a proof, nearly every one, gets its answer without an await.
    accessTokenClaims(context: GrantContext, input: AccessTokenInput) {
      const { request } = context;
      const proof = request.proof?.dpop;
      if (proof === undefined) {
        if (input.client.dpopBoundAccessTokens) {
          throw new TesseraError("invalid_dpop_proof", "this client's tokens must be DPoP-bound: send a DPoP proof", undefined, undefined, options.checker.currentNonce());
        }
        return undefined;
      }
      // One promise per request, resolved with the claims: each further `.then` is a turn of
      // the microtask queue per token.
      let claims = checked.get(request);
      if (!claims) {
        const { method, url } = request.proof!;
        claims = options.checker.check(proof, { method, url }).then((verified) => {
          bound.add(request);
          return { cnf: { jkt: verified.jkt } };
        });
        checked.set(request, claims);
      }
      return claims;
    },
    response(context: GrantContext, response: TokenResponse): TokenResponse {
      return bound.has(context.request) ? { ...response, tokenType: "DPoP" } : response;
    },
  };
}
