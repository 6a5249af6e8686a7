/**
 * Resource servers asking Tessera: RFC 7662 introspection and RFC 7009 revocation over HTTP,
 * IntrospectionService over gRPC — every inactive case is plain `active: false`, and revocation
 * and deactivation take effect at once.
 */
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, registerClient, type RegisteredClient } from "../support/clients.js";
import { grpc, grpcClient, unary } from "../support/grpc-clients.js";
import { STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const RESOURCE = "payments-api";

describe.each(STORAGE_KINDS)("introspection and revocation on %s storage", (storage) => {
  let server: TestServer;
  let introspector: string;
  let worker: RegisteredClient;
  let resourceServer: RegisteredClient;
  let bystander: RegisteredClient;

  const form = (values: Record<string, string>) => new URLSearchParams(values).toString();
  async function tokenFor(client: RegisteredClient, extra: Record<string, string> = {}): Promise<string> {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: form({ grant_type: "client_credentials", ...extra }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }
  async function introspect(token: string, authorization = `Bearer ${introspector}`) {
    const response = await fetch(`${server.url}/oauth/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization },
      body: form({ token }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  }
  async function revoke(token: string, client: RegisteredClient) {
    const response = await fetch(`${server.url}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
      body: form({ token, token_type_hint: "access_token" }),
    });
    return { status: response.status, text: await response.text() };
  }

  beforeAll(async () => {
    server = await startTestServer({ storage });
    introspector = await server.adminToken("tessera:introspect");
    worker = await registerClient(server, { name: "worker", scopes: ["pay:read", "pay:write"], audiences: [RESOURCE], trustedMetadata: { team: "payments" }, claimsTemplate: { team: "{{metadata.team}}" } });
    resourceServer = await registerClient(server, { clientId: RESOURCE, name: "payments api", scopes: [] });
    bystander = await registerClient(server, { name: "bystander", scopes: ["other"] });
  });
  afterAll(async () => server?.destroy());

  describe("POST /oauth/introspect", () => {
    it("describes an active token with the RFC 7662 members", async () => {
      const token = await tokenFor(worker);
      const { status, headers, body } = await introspect(token);
      expect(status).toBe(200);
      expect(headers.get("cache-control")).toBe("no-store");
      expect(body).toMatchObject({
        active: true,
        scope: "pay:read pay:write",
        client_id: worker.clientId,
        token_type: "Bearer",
        sub: worker.clientId,
        aud: RESOURCE,
        iss: server.config.issuer,
        jti: expect.any(String),
        exp: expect.any(Number),
        iat: expect.any(Number),
        nbf: expect.any(Number),
      });
    });

    it("lets a resource server introspect tokens issued for it, and not others", async () => {
      const forIt = await tokenFor(worker);
      expect((await introspect(forIt, basicAuthorization(resourceServer.clientId, resourceServer.clientSecret))).body.active).toBe(true);
      expect((await introspect(forIt, basicAuthorization(bystander.clientId, bystander.clientSecret))).body).toEqual({ active: false });
    });

    it("answers active:false and nothing more for malformed, foreign, unknown-key and expired tokens", async () => {
      const foreignKey = (await generateKeyPair("RS256")).privateKey;
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ client_id: worker.clientId, scope: "pay:read", jti: "forged" })
        .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: "unknown-kid" })
        .setIssuer(server.config.issuer).setSubject(worker.clientId).setAudience(RESOURCE).setIssuedAt(now).setExpirationTime(now + 60)
        .sign(foreignKey);
      const realToken = await tokenFor(worker);
      const [header, payload] = realToken.split(".");
      const otherIssuer = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), iss: "https://evil.example" })).toString("base64url")}.${realToken.split(".")[2]}`;
      const shortLived = await registerClient(server, { name: "blink", scopes: ["x"], tokenLifetime: { seconds: 1n } });
      const expiring = await tokenFor(shortLived);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      for (const token of ["not-a-token", "a.b.c", forged, otherIssuer, expiring, `${realToken}x`]) {
        expect((await introspect(token)).body).toEqual({ active: false });
      }
    });

    it("requires the caller to authenticate: 401 without credentials, 403 for a bearer without tessera:introspect", async () => {
      const token = await tokenFor(worker);
      const anonymous = await fetch(`${server.url}/oauth/introspect`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form({ token }) });
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: "invalid_client" });
      const weak = await introspect(token, `Bearer ${token}`);
      expect(weak.status).toBe(401);
      expect(weak.headers.get("www-authenticate")).toContain('error="invalid_token"');
      const adminWithoutIntrospect = await server.adminToken("tessera:admin");
      const denied = await introspect(token, `Bearer ${adminWithoutIntrospect}`);
      expect(denied.status).toBe(403);
      expect(denied.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    });
  });

  describe("POST /oauth/revoke", () => {
    it("revokes a client's own token, visible to introspection at once", async () => {
      const token = await tokenFor(worker);
      expect((await introspect(token)).body.active).toBe(true);
      expect(await revoke(token, worker)).toEqual({ status: 200, text: "" });
      expect((await introspect(token)).body).toEqual({ active: false });
    });

    it("refuses to revoke another client's token, and accepts unknown tokens silently", async () => {
      const token = await tokenFor(worker);
      const refused = await revoke(token, bystander);
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.text)).toMatchObject({ error: "unauthorized_client" });
      expect((await introspect(token)).body.active).toBe(true);
      expect((await revoke("no-such-token", bystander)).status).toBe(200);
    });
  });

  describe("client lifecycle", () => {
    it("makes a deactivated client's tokens inactive at once and for good (reactivation does not revive them), and a deleted client's too", async () => {
      const client = await registerClient(server, { name: "short-career", scopes: ["x"] });
      const token = await tokenFor(client);
      const revokedToken = await tokenFor(client);
      expect(await revoke(revokedToken, client)).toMatchObject({ status: 200 });
      const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
      await adminApi(server).deactivateClient({ clientId: client.clientId }, auth);
      expect((await introspect(token)).body).toEqual({ active: false });
      await adminApi(server).reactivateClient({ clientId: client.clientId }, auth);
      expect((await introspect(token)).body).toEqual({ active: false });
      expect((await introspect(revokedToken)).body).toEqual({ active: false });
      const fresh = await tokenFor(client);
      expect((await introspect(fresh)).body.active).toBe(true);
      await adminApi(server).deleteClient({ clientId: client.clientId }, auth);
      expect((await introspect(fresh)).body).toEqual({ active: false });
    });
  });

  describe("tessera.v1.IntrospectionService over grpc-js", () => {
    const call = async <T>(method: string, request: object, authorization = `Bearer ${introspector}`): Promise<T> => {
      const service = grpcClient(`127.0.0.1:${server.port}`, "IntrospectionService");
      const metadata = new grpc.Metadata();
      metadata.set("authorization", authorization);
      try {
        return await unary<T>(service, method, request, metadata);
      } finally {
        service.close();
      }
    };

    it("introspects and authenticates a token, with custom claims and the client's metadata", async () => {
      const token = await tokenFor(worker);
      expect(await call("introspectToken", { token })).toMatchObject({ active: true, clientId: worker.clientId, scopes: ["pay:read", "pay:write"], audiences: [RESOURCE] });
      const authenticated = await call<Record<string, unknown>>("authenticateToken", { token, requiredScopes: ["pay:read"], requiredAudience: RESOURCE });
      expect(authenticated).toMatchObject({ clientId: worker.clientId, scopes: ["pay:read", "pay:write"], audiences: [RESOURCE], tokenId: expect.any(String) });
      expect(JSON.stringify(authenticated.customClaims)).toContain("payments");
      expect(JSON.stringify(authenticated.trustedMetadata)).toContain("payments");
    });

    it("fails AuthenticateToken with PERMISSION_DENIED naming missing scopes and UNAUTHENTICATED for an inactive token", async () => {
      const token = await tokenFor(worker, { scope: "pay:read" });
      const denied = (await call("authenticateToken", { token, requiredScopes: ["pay:read", "pay:write", "pay:admin"] }).catch((error: unknown) => error)) as grpc.ServiceError;
      expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
      // connect-node percent-encodes ':' in grpc-message and grpc-js decodes with decodeURI, which leaves %3A.
      expect(decodeURIComponent(denied.details)).toBe("missing scopes: pay:write pay:admin");
      await expect(call("authenticateToken", { token: "garbage" })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      await expect(call("authenticateToken", { token }, "Bearer not-a-token")).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      expect(await call("introspectToken", { token: "garbage" })).toMatchObject({ active: false });
    });

    it("revokes over gRPC with Basic client credentials", async () => {
      const token = await tokenFor(worker);
      await call("revokeToken", { token }, basicAuthorization(worker.clientId, worker.clientSecret));
      expect(await call("introspectToken", { token })).toMatchObject({ active: false });
      await expect(call("revokeToken", { token: await tokenFor(worker) }, basicAuthorization(bystander.clientId, bystander.clientSecret))).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
      });
    });
  });
});
