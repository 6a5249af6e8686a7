/**
 * tessera/client: getting, caching and attaching access tokens in a Node service, and typed
 * clients for Tessera's RPC API.
 *
 *     const source = createTokenSource({ issuer: "https://tessera.internal", clientId, clientSecret, scopes: ["pay:read"] });
 *     const api = authorizedFetch(source);                                          // fetch / undici
 *     createGrpcTransport({ baseUrl, interceptors: [bearerInterceptor(source)] });   // Connect / gRPC
 */
export {
  createTokenSource,
  type CachedToken,
  type RetryOptions,
  type TokenSelection,
  type TokenSource,
  type TokenSourceOptions,
} from "./token-source.js";
export { TokenError, isTokenError, type TokenErrorReason } from "./token-error.js";
export type { IssuedToken } from "./token-request.js";
export { basicAuthorization, type PrivateKeyOptions } from "./client-authentication.js";
export { dpopProofSigner, type DpopProofInput, type DpopProofSigner } from "./dpop.js";
export { discoverMetadata, metadataUrls, type AuthorizationServerMetadata } from "./discovery.js";
export { authorizedFetch, bearerInterceptor } from "./authorization.js";
export {
  ClientAdminService,
  IntrospectionService,
  TokenService,
  createTesseraClients,
  type TesseraClients,
  type TesseraClientsOptions,
} from "./tessera-clients.js";
