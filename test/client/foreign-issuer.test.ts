/**
 * tessera/client is not tied to Tessera: the same token source against node-oidc-provider, found
 * through its metadata (it publishes only OpenID Connect Discovery, so the RFC 8414 URL answers
 * 404 and the source falls back), with the same caching and refusals. Token requests are counted
 * by the provider's own middleware.
 */
import { generateKeyPairSync } from "node:crypto";
import type { Server } from "node:http";
import { decodeJwt } from "jose";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenError, createTokenSource } from "tessera/client";
import { freePort } from "../support/ports.js";

const RESOURCE = "https://api.foreign.example";
const SCOPE = "reports:read";
const CLIENT = { id: "foreign-worker", secret: "foreign-secret-0123456789abcdefghijklmnop" };

let issuer: string;
let httpServer: Server;
let tokenRequests = 0;

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "foreign", alg: "ES256", use: "sig" }] },
    scopes: [SCOPE],
    ttl: { ClientCredentials: 600 },
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        scope: SCOPE,
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "ES256",
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf: string | undefined) => oneOf ?? RESOURCE,
        useGrantedResource: async () => false,
        getResourceServerInfo: async () => ({ scope: SCOPE, audience: RESOURCE, accessTokenFormat: "jwt", accessTokenTTL: 600, jwt: { sign: { alg: "ES256" } } }),
      },
    },
  });
  // Koa middleware of the provider's own app: counts what reaches its token endpoint.
  (provider as unknown as { use(middleware: (ctx: { path: string; method: string }, next: () => Promise<void>) => Promise<void>): void }).use(async (ctx, next) => {
    if (ctx.method === "POST" && ctx.path === "/token") tokenRequests += 1;
    await next();
  });
  await new Promise<void>((resolve) => {
    httpServer = provider.listen(port, "127.0.0.1", resolve);
  });
});
afterAll(async () => {
  await new Promise((resolve) => httpServer?.close(resolve));
});

describe("createTokenSource against node-oidc-provider, a foreign issuer", () => {
  it("finds the token endpoint through discovery and answers 1,000 concurrent callers with one token request", async () => {
    const source = createTokenSource({ issuer, clientId: CLIENT.id, clientSecret: CLIENT.secret, scopes: [SCOPE], audience: RESOURCE });
    const before = tokenRequests;
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => source.getToken()));
    expect(tokenRequests - before).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(decodeJwt(tokens[0]!)).toMatchObject({ iss: issuer, client_id: CLIENT.id, aud: RESOURCE, scope: SCOPE });
    const issued = await source.getIssuedToken();
    expect(issued).toMatchObject({ accessToken: tokens[0], expiresIn: 600 });
    expect(tokenRequests - before).toBe(1);
  });

  it("surfaces the provider's invalid_client at once, after one request", async () => {
    const source = createTokenSource({ issuer, clientId: CLIENT.id, clientSecret: "wrong", scopes: [SCOPE] });
    const before = tokenRequests;
    const error = await source.getToken().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenError);
    expect(error).toMatchObject({ error: "invalid_client", reason: "refused", status: 401 });
    expect(tokenRequests - before).toBe(1);
  });
});
