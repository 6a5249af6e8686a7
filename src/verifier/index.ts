/**
 * tessera/verifier: verifying Tessera's access tokens in a Node resource server.
 *
 *     const verifier = createVerifier({ issuer: "https://tessera.internal", audience: "payments-api" });
 *     app.get("/payments", requireToken(verifier, { scopes: ["pay:read"] }), handler);       // Express, node:http
 *     connectNodeAdapter({ routes, interceptors: [tokenInterceptor(verifier, { scopes: ["pay:read"] })] }); // Connect
 */
export {
  ACCESS_TOKEN_ALGORITHMS,
  createVerifier,
  type AccessTokenAlgorithm,
  type AccessTokenClaims,
  type DelegationRequirement,
  type TokenActor,
  type VerifiedAccessToken,
  type Verifier,
  type VerifierOptions,
  type VerifyOptions,
  type DpopRequest,
  type DpopVerifierOptions,
} from "./verifier.js";
export { DPOP_SIGNING_ALGORITHMS } from "../keys/dpop-proof.js";
export { VerifierError, isVerifierError, type VerifierErrorCode } from "./verifier-error.js";
export { RemoteKeySet, type KeySelector, type RemoteKeySetOptions, type VerificationKey } from "./remote-key-set.js";
export type { RemoteAuthenticationOptions, RemoteAuthenticationResult } from "./remote-authentication.js";
export { requireToken, tokenOf, type RequireTokenOptions, type TokenMiddleware, type TokenRequest, type TokenResponse } from "./middleware.js";
export { accessTokenKey, tokenInterceptor, type MethodRequirement, type TokenInterceptorOptions } from "./connect-interceptor.js";
export { bearerChallenge, bearerTokenFrom, dpopChallenge, presentedTokenFrom, type PresentedToken } from "./bearer-challenge.js";
