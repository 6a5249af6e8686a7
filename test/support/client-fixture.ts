/**
 * A client definition with every field at its plain default (no audiences, no lifetime or
 * algorithm of its own, no keys, no refresh tokens), for tests that build clients without the
 * admin API. Tests name only what they care about.
 */
import type { NewClient } from "../../src/clients/client-repository.js";

export function newClientFixture(overrides: Partial<NewClient> & { id: string }): NewClient {
  return {
    name: `client ${overrides.id}`,
    description: "",
    allowedScopes: ["read"],
    defaultScopes: ["read"],
    allowedAudiences: [],
    defaultAudiences: [],
    trustedMetadata: {},
    tokenLifetimeSeconds: null,
    signingAlg: null,
    claimsTemplate: {},
    jwks: null,
    jwksUri: null,
    expireTime: null,
    refreshTokensEnabled: false,
    dpopBoundAccessTokens: false,
    rateLimitPerSecond: null,
    annotations: {},
    tokenEndpointAuthMethod: null,
    tlsClientAuthSubjectDn: null,
    tlsClientAuthSanDns: null,
    tlsClientAuthSanUri: null,
    tlsClientAuthSanIp: null,
    tlsClientAuthSanEmail: null,
    tokensNotBefore: new Date(),
    ...overrides,
  };
}
