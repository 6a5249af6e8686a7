/**
 * createVerifier against a real Tessera: RFC 9068 §4 validation of its access tokens, RFC 6750
 * §3.1 scope checks, JWKS caching, and the revocation-sensitive mode that asks AuthenticateToken.
 * Imported by package name, as a resource server would.
 */
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier, VerifierError, type Verifier, type VerifierOptions } from "tessera/verifier";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";
import { SigningAlgorithm } from "../../src/gen/tessera/v1/client_pb.js";

const RESOURCE = "payments-api";

describe("createVerifier({ issuer, audience }).verify", () => {
  let server: TestServer;
  let worker: RegisteredClient;
  let resourceServer: RegisteredClient;
  const verifiers: Verifier[] = [];

  async function tokenFor(client: RegisteredClient, extra: Record<string, string> = {}): Promise<string> {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: new URLSearchParams({ grant_type: "client_credentials", ...extra }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  /** A verifier whose JWKS requests are counted. */
  function countingVerifier(overrides: Partial<VerifierOptions> = {}) {
    const requests: string[] = [];
    const verifier = createVerifier({
      issuer: server.config.issuer,
      audience: RESOURCE,
      fetch: async (input, init) => {
        requests.push(String(input));
        return fetch(input, init);
      },
      ...overrides,
    });
    verifiers.push(verifier);
    return { verifier, requests };
  }

  async function refusal(promise: Promise<unknown>): Promise<VerifierError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(VerifierError);
    return error as VerifierError;
  }

  beforeAll(async () => {
    server = await startTestServer({ storage: "embedded" });
    worker = await registerClient(server, {
      name: "worker",
      scopes: ["pay:read", "pay:write"],
      audiences: [RESOURCE, "ledger-api"],
      trustedMetadata: { team: "payments" },
      claimsTemplate: { team: "{{metadata.team}}" },
    });
    resourceServer = await registerClient(server, { clientId: RESOURCE, name: "payments api", scopes: [] });
  });
  afterAll(async () => {
    for (const verifier of verifiers) verifier.close();
    await server?.destroy();
  });

  it("returns the token's typed claims", async () => {
    const { verifier } = countingVerifier();
    const token = await tokenFor(worker, { scope: "pay:read pay:write", resource: RESOURCE });
    const verified = await verifier.verify(token, { requiredScopes: ["pay:read"] });
    expect(verified).toMatchObject({
      clientId: worker.clientId,
      subject: worker.clientId,
      scopes: ["pay:read", "pay:write"],
      audiences: [RESOURCE],
      issuer: server.config.issuer,
      tokenId: expect.any(String),
      algorithm: "RS256",
      keyId: expect.any(String),
      customClaims: { team: "payments" },
    });
    expect(verified.expiresAt.getTime() - verified.issuedAt.getTime()).toBe(3600_000);
    expect(verified.claims).toMatchObject({ iss: server.config.issuer, client_id: worker.clientId, scope: "pay:read pay:write", aud: RESOURCE });
    expect(verified.remote).toBeUndefined();
  });

  it.each([
    ["PS256", SigningAlgorithm.PS256],
    ["ES256", SigningAlgorithm.ES256],
    ["EdDSA", SigningAlgorithm.EDDSA],
  ] as const)("verifies %s tokens as well", async (algorithm, signingAlgorithm) => {
    const client = await registerClient(server, { name: `worker-${algorithm}`, scopes: ["pay:read"], audiences: [RESOURCE], signingAlgorithm });
    const { verifier } = countingVerifier();
    expect((await verifier.verify(await tokenFor(client))).algorithm).toBe(algorithm);
  });

  it("accepts a token for any of several audiences of the resource server", async () => {
    const { verifier } = countingVerifier({ audience: ["ledger-api", "elsewhere"] });
    const token = await tokenFor(worker, { resource: "ledger-api" });
    expect((await verifier.verify(token)).audiences).toEqual(["ledger-api"]);
  });

  describe("refuses with invalid_token", () => {
    it("a token for another audience", async () => {
      const { verifier } = countingVerifier({ audience: "someone-else" });
      const error = await refusal(verifier.verify(await tokenFor(worker, { resource: RESOURCE })));
      expect(error).toMatchObject({ code: "invalid_token", message: "the token is not for this audience" });
    });

    it("a token from another issuer (a verifier configured for another Tessera, same keys)", async () => {
      const { verifier } = countingVerifier({ issuer: "https://other-tessera.example", jwksUri: `${server.url}/keys` });
      const error = await refusal(verifier.verify(await tokenFor(worker)));
      expect(error).toMatchObject({ code: "invalid_token", message: "the token is from another issuer" });
    });

    it("an expired token, beyond the clock tolerance", async () => {
      const token = await tokenFor(worker);
      const later = new Date(Date.now() + 3600_000 + 31_000);
      const { verifier } = countingVerifier({ now: () => later });
      expect(await refusal(verifier.verify(token))).toMatchObject({ code: "invalid_token", message: "the token has expired" });
      const justExpired = new Date(Date.now() + 3600_000 + 5_000);
      const tolerant = countingVerifier({ now: () => justExpired }).verifier;
      expect((await tolerant.verify(token)).clientId).toBe(worker.clientId);
    });

    it("a tampered token (payload changed, signature kept)", async () => {
      const { verifier } = countingVerifier();
      const [header, payload, signature] = (await tokenFor(worker, { scope: "pay:read" })).split(".");
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
      const widened = Buffer.from(JSON.stringify({ ...claims, scope: "pay:read pay:write pay:admin" })).toString("base64url");
      const error = await refusal(verifier.verify(`${header}.${widened}.${signature}`));
      expect(error).toMatchObject({ code: "invalid_token", message: "the token's signature is invalid" });
    });

    it("an unsecured token (alg none) and an HMAC token, without fetching the JWKS", async () => {
      const { verifier, requests } = countingVerifier();
      const [, payload] = (await tokenFor(worker)).split(".");
      const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${payload}.`;
      expect(await refusal(verifier.verify(none))).toMatchObject({ code: "invalid_token" });
      const hmac = await new SignJWT({ client_id: worker.clientId, scope: "pay:read", jti: "x" })
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
        .setIssuer(server.config.issuer).setSubject(worker.clientId).setAudience(RESOURCE).setIssuedAt().setExpirationTime("5m")
        .sign(new TextEncoder().encode("a-secret-anyone-could-guess-0123456789"));
      expect(await refusal(verifier.verify(hmac))).toMatchObject({ code: "invalid_token", message: "the token's signing algorithm is not accepted" });
      expect(requests).toEqual([]);
    });

    it("a JWT that is not an access token (typ JWT), and one signed by a key Tessera never published", async () => {
      const { verifier } = countingVerifier();
      const { privateKey } = await generateKeyPair("ES256");
      const forge = (typ: string, kid: string) =>
        new SignJWT({ client_id: worker.clientId, scope: "pay:read", jti: "forged" })
          .setProtectedHeader({ alg: "ES256", typ, kid })
          .setIssuer(server.config.issuer).setSubject(worker.clientId).setAudience(RESOURCE).setIssuedAt().setExpirationTime("5m")
          .sign(privateKey);
      expect(await refusal(verifier.verify(await forge("JWT", "k")))).toMatchObject({ code: "invalid_token", message: "the token is not a JWT access token (typ at+jwt)" });
      expect(await refusal(verifier.verify(await forge("at+jwt", "not-a-tessera-kid")))).toMatchObject({ code: "invalid_token", message: "the token is signed with an unknown key" });
    });

    it("garbage", async () => {
      const { verifier } = countingVerifier();
      for (const token of ["", "not-a-token", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"]) {
        expect(await refusal(verifier.verify(token))).toMatchObject({ code: "invalid_token" });
      }
    });
  });

  it("refuses a token without the required scopes with insufficient_scope naming them", async () => {
    const { verifier } = countingVerifier();
    const token = await tokenFor(worker, { scope: "pay:read" });
    const error = await refusal(verifier.verify(token, { requiredScopes: ["pay:read", "pay:write", "pay:admin"] }));
    expect(error).toMatchObject({
      code: "insufficient_scope",
      message: "the token lacks the scopes pay:write pay:admin",
      requiredScopes: ["pay:read", "pay:write", "pay:admin"],
      missingScopes: ["pay:write", "pay:admin"],
    });
  });

  it("fetches the JWKS once and verifies many tokens, concurrently too, from the cache", async () => {
    const { verifier, requests } = countingVerifier();
    const tokens = await Promise.all(Array.from({ length: 5 }, () => tokenFor(worker)));
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 200 }, (_, index) => verifier.verify(tokens[index % tokens.length]!)));
    const elapsedMs = performance.now() - started;
    expect(results.every((result) => result.clientId === worker.clientId)).toBe(true);
    expect(requests).toEqual([`${server.url}/keys`]);
    expect(elapsedMs).toBeLessThan(5_000);
  });

  it("answers temporarily_unavailable, not invalid_token, when the JWKS cannot be fetched", async () => {
    const { verifier } = countingVerifier({ jwksUri: `${server.url}/no-such-jwks` });
    expect(await refusal(verifier.verify(await tokenFor(worker)))).toMatchObject({ code: "temporarily_unavailable" });
  });

  describe("checkRevocation: asking IntrospectionService.AuthenticateToken as well", () => {
    async function revoke(token: string) {
      const response = await fetch(`${server.url}/oauth/revoke`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(worker.clientId, worker.clientSecret) },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }),
      });
      expect(response.status).toBe(200);
    }

    it("accepts an active token and adds the client's trusted metadata", async () => {
      const { verifier } = countingVerifier({ remote: { clientId: resourceServer.clientId, clientSecret: resourceServer.clientSecret } });
      const verified = await verifier.verify(await tokenFor(worker), { requiredScopes: ["pay:read"], checkRevocation: true });
      expect(verified.remote).toEqual({ trustedMetadata: { team: "payments" } });
    });

    it("refuses a revoked token that still verifies locally", async () => {
      const { verifier } = countingVerifier({ remote: { clientId: resourceServer.clientId, clientSecret: resourceServer.clientSecret } });
      const token = await tokenFor(worker);
      await revoke(token);
      expect((await verifier.verify(token)).clientId).toBe(worker.clientId);
      expect(await refusal(verifier.verify(token, { checkRevocation: true }))).toMatchObject({
        code: "invalid_token",
        message: "Tessera reports the token is no longer active",
      });
    });

    it("answers temporarily_unavailable when Tessera refuses the resource server's own credentials", async () => {
      const { verifier } = countingVerifier({ remote: { clientId: resourceServer.clientId, clientSecret: "wrong-secret" } });
      expect(await refusal(verifier.verify(await tokenFor(worker), { checkRevocation: true }))).toMatchObject({ code: "temporarily_unavailable" });
    });

    it("is a programming error without remote credentials", async () => {
      const { verifier } = countingVerifier();
      await expect(verifier.verify(await tokenFor(worker), { checkRevocation: true })).rejects.toThrow(TypeError);
    });
  });
});
