/**
 * What goes into an access token (RFC 9068): the client's algorithm, lifetime, custom claims
 * from its template and trusted metadata, and the server's scope policy.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningAlgorithm } from "../../src/gen/tessera/v1/client_pb.js";
import { registerClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

async function token(server: TestServer, clientId: string, clientSecret: string, extra: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(clientId, clientSecret) },
    body: new URLSearchParams({ grant_type: "client_credentials", ...extra }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string | number> };
}

describe("access token contents", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
  });
  afterAll(async () => server?.destroy());

  it.each([
    [SigningAlgorithm.RS256, "RS256"],
    [SigningAlgorithm.PS256, "PS256"],
    [SigningAlgorithm.ES256, "ES256"],
    [SigningAlgorithm.EDDSA, "EdDSA"],
  ])("signs with the client's algorithm (%s → %s), verifiable against /keys", async (signingAlgorithm, alg) => {
    const client = await registerClient(server, { name: `alg-${alg}`, scopes: ["x"], signingAlgorithm });
    const { body } = await token(server, client.clientId, client.clientSecret);
    const accessToken = String(body.access_token);
    expect(decodeProtectedHeader(accessToken)).toMatchObject({ alg, typ: "at+jwt" });
    const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(`${server.url}/keys`)), { issuer: server.config.issuer });
    expect(payload.client_id).toBe(client.clientId);
    // No audiences registered: the token is for Tessera itself (RFC 9068 requires aud).
    expect(payload.aud).toBe(server.config.issuer);
  });

  it("uses the client's token lifetime", async () => {
    const client = await registerClient(server, { name: "short-lived", scopes: ["x"], tokenLifetime: { seconds: 300n } });
    const { body } = await token(server, client.clientId, client.clientSecret);
    expect(body.expires_in).toBe(300);
    const { payload } = await jwtVerify(String(body.access_token), createRemoteJWKSet(new URL(`${server.url}/keys`)));
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it("adds custom claims from the template, with values from trusted metadata, and never lets them override registered claims", async () => {
    const client = await registerClient(server, {
      name: "templated",
      scopes: ["x"],
      trustedMetadata: { tenant: { id: "t-42" }, tier: "gold" },
      claimsTemplate: { tenant_id: "{{metadata.tenant.id}}", tier: "{{ metadata.tier }}", region: "eu-west", missing: "{{metadata.nope}}" },
    });
    const { body } = await token(server, client.clientId, client.clientSecret);
    const { payload } = await jwtVerify(String(body.access_token), createRemoteJWKSet(new URL(`${server.url}/keys`)));
    expect(payload).toMatchObject({ tenant_id: "t-42", tier: "gold", region: "eu-west", client_id: client.clientId });
    expect(payload).not.toHaveProperty("missing");
  });

  it("refuses a template that sets a registered claim", async () => {
    await expect(registerClient(server, { name: "forger", claimsTemplate: { sub: "someone-else" } })).rejects.toMatchObject({
      rawMessage: expect.stringContaining("claims_template"),
    });
  });

  it("grants the default audience when none is requested, and the requested one when allowed", async () => {
    const client = await registerClient(server, { name: "multi-aud", scopes: ["x"], audiences: ["https://a.example", "https://b.example"] });
    const jwks = createRemoteJWKSet(new URL(`${server.url}/keys`));
    const plain = await token(server, client.clientId, client.clientSecret);
    expect((await jwtVerify(String(plain.body.access_token), jwks)).payload.aud).toBe("https://a.example");
    const both = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: "grant_type=client_credentials&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example",
    });
    const { access_token } = (await both.json()) as { access_token: string };
    expect((await jwtVerify(access_token, jwks)).payload.aud).toEqual(["https://a.example", "https://b.example"]);
  });
});

describe("TESSERA_SCOPE_POLICY=narrow", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded", env: { TESSERA_SCOPE_POLICY: "narrow" } });
  });
  afterAll(async () => server?.destroy());

  it("grants the allowed subset of the requested scopes, and invalid_scope when nothing is left", async () => {
    const client = await registerClient(server, { name: "narrowed", scopes: ["openid"] });
    const subset = await token(server, client.clientId, client.clientSecret, { scope: "openid profile email" });
    expect(subset).toMatchObject({ status: 200, body: { scope: "openid" } });
    const none = await token(server, client.clientId, client.clientSecret, { scope: "profile email" });
    expect(none).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
  });
});
