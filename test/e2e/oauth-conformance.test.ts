/**
 * Stock OAuth client libraries against Tessera, unchanged: openid-client and oauth4webapi
 * discover the issuer, get tokens with client_secret_basic, client_secret_post and
 * private_key_jwt, and the tokens verify with jose against /keys.
 */
import { exportJWK, generateKeyPair, createRemoteJWKSet, jwtVerify, type CryptoKey } from "jose";
import * as oauth from "oauth4webapi";
import * as openid from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const AUDIENCE = "https://inventory.example";

describe("stock OAuth client libraries", () => {
  let server: TestServer;
  let client: RegisteredClient;
  let keyPair: { privateKey: CryptoKey; publicKey: CryptoKey };
  let keyedClient: RegisteredClient;

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
    client = await registerClient(server, { name: "inventory-sync", scopes: ["inventory:read", "inventory:write"], audiences: [AUDIENCE] });
    keyPair = await generateKeyPair("ES256");
    const publicJwk = { ...(await exportJWK(keyPair.publicKey)), kid: "sync-key-1", alg: "ES256", use: "sig" };
    keyedClient = await registerClient(server, {
      name: "inventory-keyed",
      scopes: ["inventory:read"],
      audiences: [AUDIENCE],
      jwks: { keys: [publicJwk] },
    });
  });
  afterAll(async () => server?.destroy());

  async function expectValidToken(accessToken: string, clientId: string, scope: string): Promise<void> {
    const { payload, protectedHeader } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(`${server.url}/keys`)), {
      issuer: server.config.issuer,
      audience: AUDIENCE,
      typ: "at+jwt",
    });
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(payload).toMatchObject({ client_id: clientId, sub: clientId, scope, aud: AUDIENCE });
  }

  describe("openid-client", () => {
    const discover = (clientId: string, auth: openid.ClientAuth) =>
      openid.discovery(new URL(server.config.issuer), clientId, undefined, auth, {
        execute: [openid.allowInsecureRequests],
        algorithm: "oauth2",
      });

    it("discovers the issuer from RFC 8414 metadata", async () => {
      const config = await discover(client.clientId, openid.ClientSecretBasic(client.clientSecret));
      expect(config.serverMetadata()).toMatchObject({ issuer: server.config.issuer, token_endpoint: `${server.config.issuer}/oauth/token` });
    });

    it.each([
      ["client_secret_basic", () => openid.ClientSecretBasic(client.clientSecret)],
      ["client_secret_post", () => openid.ClientSecretPost(client.clientSecret)],
    ])("gets a token with %s", async (_method, auth) => {
      const config = await discover(client.clientId, auth());
      const tokens = await openid.clientCredentialsGrant(config, { scope: "inventory:read", resource: AUDIENCE });
      expect(tokens.token_type).toBe("bearer");
      expect(tokens.expires_in).toBe(3600);
      await expectValidToken(tokens.access_token, client.clientId, "inventory:read");
    });

    it("gets a token with private_key_jwt", async () => {
      const config = await discover(keyedClient.clientId, openid.PrivateKeyJwt({ key: keyPair.privateKey, kid: "sync-key-1" }));
      const tokens = await openid.clientCredentialsGrant(config, { scope: "inventory:read" });
      await expectValidToken(tokens.access_token, keyedClient.clientId, "inventory:read");
    });
  });

  describe("oauth4webapi", () => {
    async function authorizationServer(): Promise<oauth.AuthorizationServer> {
      const issuer = new URL(server.config.issuer);
      const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", [oauth.allowInsecureRequests]: true });
      return oauth.processDiscoveryResponse(issuer, response);
    }

    it.each([
      ["client_secret_basic", () => oauth.ClientSecretBasic(client.clientSecret), () => client],
      ["client_secret_post", () => oauth.ClientSecretPost(client.clientSecret), () => client],
      ["private_key_jwt", () => oauth.PrivateKeyJwt({ key: keyPair.privateKey, kid: "sync-key-1" }), () => keyedClient],
    ])("gets a token with %s", async (_method, auth, who) => {
      const as = await authorizationServer();
      const { clientId } = who();
      const response = await oauth.clientCredentialsGrantRequest(as, { client_id: clientId }, auth(), new URLSearchParams({ scope: "inventory:read" }), {
        [oauth.allowInsecureRequests]: true,
      });
      const result = await oauth.processClientCredentialsResponse(as, { client_id: clientId }, response);
      await expectValidToken(result.access_token, clientId, "inventory:read");
    });
  });
});
