/**
 * The foundation end to end: one port serving the OAuth gateway over HTTP/1.1, Connect and
 * gRPC-Web over HTTP/1.1, and gRPC and Connect over h2c — on the embedded database and on
 * PostgreSQL alike.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { OAuthErrorSchema } from "../../src/gen/tessera/v1/oauth_error_pb.js";
import { TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { grpc, grpcClient, unary } from "../support/grpc-clients.js";
import { ADMIN_CLIENT, STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

async function requestToken(server: TestServer, body: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(body),
  });
}

describe.each(STORAGE_KINDS)("Tessera on %s storage", (storage) => {
  let server: TestServer;
  let adminToken: string;
  let client: { clientId: string; clientSecret: string };

  const adminClient = (transport = createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })) =>
    createClient(ClientAdminService, transport);
  const asAdmin = () => ({ headers: { authorization: `Bearer ${adminToken}` } });

  beforeAll(async () => {
    server = await startTestServer({ storage });
    adminToken = await server.adminToken();
    const created = await adminClient().createClient(
      { name: "billing-worker", scopes: ["billing:read", "billing:write"], audiences: ["https://billing.example"], trustedMetadata: { team: "payments" } },
      asAdmin(),
    );
    client = { clientId: created.client!.clientId, clientSecret: created.clientSecret };
  });
  afterAll(async () => server?.destroy());

  describe("health", () => {
    it("answers /healthz and /readyz with 200 once started", async () => {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: "ready", checks: { database: "ok", migrations: "ok" } });
    });

    it("answers grpc.health.v1.Health/Check SERVING over h2c with grpc-js", async () => {
      const health = grpcClient(`127.0.0.1:${server.port}`, "Health");
      try {
        expect(await unary(health, "check", { service: "" })).toEqual({ status: "SERVING" });
        expect(await unary(health, "check", { service: "tessera.v1.TokenService" })).toEqual({ status: "SERVING" });
      } finally {
        health.close();
      }
    });
  });

  describe("GET /.well-known/oauth-authorization-server (RFC 8414)", () => {
    it("describes the issuer and its endpoints, with the issuer exactly as configured", async () => {
      const response = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
      expect(response.status).toBe(200);
      const metadata = (await response.json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({
        issuer: server.config.issuer,
        token_endpoint: `${server.config.issuer}/oauth/token`,
        jwks_uri: `${server.config.issuer}/keys`,
        grant_types_supported: [
          "client_credentials",
          "refresh_token",
          "urn:ietf:params:oauth:grant-type:jwt-bearer",
          "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
      });
      // spiffe_jwt: draft-ietf-oauth-spiffe-client-auth §4.
      expect(metadata.token_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post", "private_key_jwt", "spiffe_jwt"]);
    });
  });

  describe("GET /keys", () => {
    it("publishes public signing keys only, with kid, use and alg", async () => {
      const response = await fetch(`${server.url}/keys`);
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
      const { keys } = (await response.json()) as { keys: Record<string, string>[] };
      expect(keys.map((key) => key.alg).sort()).toEqual(["ES256", "EdDSA", "PS256", "RS256"]);
      for (const key of keys) {
        expect(key).toMatchObject({ use: "sig", kid: expect.any(String) });
        for (const privateMember of ["d", "p", "q", "dp", "dq", "qi"]) expect(key).not.toHaveProperty(privateMember);
      }
      expect(keys.find((key) => key.alg === "RS256")).toMatchObject({ kty: "RSA", n: expect.any(String), e: "AQAB" });
      expect(keys.find((key) => key.alg === "ES256")).toMatchObject({ kty: "EC", crv: "P-256", x: expect.any(String), y: expect.any(String) });
      expect(keys.find((key) => key.alg === "EdDSA")).toMatchObject({ kty: "OKP", crv: "Ed25519", x: expect.any(String) });
    });

    it("answers 304 to a matching If-None-Match", async () => {
      const first = await fetch(`${server.url}/keys`);
      const etag = first.headers.get("etag");
      expect(etag).toBeTruthy();
      const second = await fetch(`${server.url}/keys`, { headers: { "if-none-match": etag! } });
      expect(second.status).toBe(304);
    });
  });

  describe("POST /oauth/token, client_credentials", () => {
    it("issues an RFC 9068 JWT with client_secret_basic that verifies against /keys", async () => {
      const response = await requestToken(server, { grant_type: "client_credentials" }, { authorization: basicAuthorization(client.clientId, client.clientSecret) });
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("pragma")).toBe("no-cache");
      const body = (await response.json()) as TokenBody;
      expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "billing:read billing:write" });

      const jwks = createRemoteJWKSet(new URL(`${server.url}/keys`));
      const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, {
        issuer: server.config.issuer,
        audience: "https://billing.example",
        typ: "at+jwt",
      });
      expect(protectedHeader).toMatchObject({ alg: "RS256", typ: "at+jwt", kid: expect.any(String) });
      expect(payload).toMatchObject({ sub: client.clientId, client_id: client.clientId, scope: "billing:read billing:write" });
      expect(payload.jti).toEqual(expect.any(String));
      expect(payload.exp! - payload.iat!).toBe(3600);
      expect(payload.nbf).toBe(payload.iat);
    });

    it("issues a token with client_secret_post and the requested subset of scopes", async () => {
      const response = await requestToken(server, { grant_type: "client_credentials", client_id: client.clientId, client_secret: client.clientSecret, scope: "billing:read" });
      expect(response.status).toBe(200);
      expect(((await response.json()) as TokenBody).scope).toBe("billing:read");
    });

    it("answers invalid_client with 401 and WWW-Authenticate, the same for a wrong secret and an unknown client", async () => {
      const wrongSecret = await requestToken(server, { grant_type: "client_credentials" }, { authorization: basicAuthorization(client.clientId, "not-the-secret") });
      const unknown = await requestToken(server, { grant_type: "client_credentials" }, { authorization: basicAuthorization("no-such-client", "whatever") });
      for (const response of [wrongSecret, unknown]) {
        expect(response.status).toBe(401);
        expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm="tessera"/);
        expect(response.headers.get("cache-control")).toBe("no-store");
      }
      expect(await wrongSecret.json()).toEqual(await unknown.json());
    });

    it.each([
      ["a missing grant_type", {}, 400, "invalid_request"],
      ["an unknown grant_type", { grant_type: "password" }, 400, "unsupported_grant_type"],
      ["a scope outside the allowance", { grant_type: "client_credentials", scope: "billing:admin" }, 400, "invalid_scope"],
      ["an audience outside the allowance", { grant_type: "client_credentials", resource: "https://other.example" }, 400, "invalid_target"],
    ])("answers %s with the RFC 6749 §5.2 error", async (_name, body, status, error) => {
      const response = await requestToken(server, body as Record<string, string>, { authorization: basicAuthorization(client.clientId, client.clientSecret) });
      expect(response.status).toBe(status);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toMatchObject({ error, error_description: expect.any(String) });
    });

    it("refuses repeated parameters and a wrong content type with invalid_request", async () => {
      const repeated = await fetch(`${server.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
        body: "grant_type=client_credentials&grant_type=client_credentials",
      });
      expect(repeated.status).toBe(400);
      expect(await repeated.json()).toMatchObject({ error: "invalid_request" });
      const text = await fetch(`${server.url}/oauth/token`, { method: "POST", headers: { "content-type": "text/plain" }, body: "grant_type=client_credentials" });
      expect(text.status).toBe(400);
      expect(await text.json()).toMatchObject({ error: "invalid_request" });
    });
  });

  describe("tessera.v1.TokenService/IssueToken", () => {
    it("issues a token to grpc-js over h2c", async () => {
      const tokens = grpcClient(`127.0.0.1:${server.port}`, "TokenService");
      try {
        const answer = await unary<{ accessToken: string; tokenType: string; expiresIn: string; scopes: string[] }>(tokens, "issueToken", {
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          scopes: ["billing:write"],
        });
        expect(answer).toMatchObject({ tokenType: "Bearer", expiresIn: "3600", scopes: ["billing:write"] });
        expect(decodeProtectedHeader(answer.accessToken)).toMatchObject({ typ: "at+jwt" });
      } finally {
        tokens.close();
      }
    });

    it("answers a wrong secret with UNAUTHENTICATED to grpc-js", async () => {
      const tokens = grpcClient(`127.0.0.1:${server.port}`, "TokenService");
      try {
        await expect(unary(tokens, "issueToken", { clientId: client.clientId, clientSecret: "wrong" })).rejects.toMatchObject({
          code: grpc.status.UNAUTHENTICATED,
        });
      } finally {
        tokens.close();
      }
    });

    it("carries the OAuth error as a detail for Connect clients over h2c", async () => {
      const tokens = createClient(TokenService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" }));
      const error = await tokens.issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: client.clientSecret }, scopes: ["nope"] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.PermissionDenied);
      expect((error as ConnectError).findDetails(OAuthErrorSchema)).toMatchObject([{ error: "invalid_scope" }]);
    });

    it("serves gRPC-Web over HTTP/1.1 and gRPC over h2c to Connect's transports", async () => {
      for (const transport of [
        createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }),
        createGrpcTransport({ baseUrl: server.url }),
      ]) {
        const answer = await createClient(TokenService, transport).issueToken({ clientId: client.clientId, credential: { case: "clientSecret", value: client.clientSecret } });
        expect(answer.tokenType).toBe("Bearer");
      }
    });
  });

  describe("tessera.v1.ClientAdminService", () => {
    it("returns the secret once at creation and stores only its hash, with an audit event", async () => {
      const created = await adminClient().createClient({ name: "reporting", scopes: ["reports:read"] }, asAdmin());
      expect(created.clientSecret.length).toBeGreaterThanOrEqual(43);
      expect(created.client).toMatchObject({ name: "reporting", scopes: ["reports:read"], clientSecretLastFour: created.clientSecret.slice(-4) });

      const fetched = await adminClient().getClient({ clientId: created.client!.clientId }, asAdmin());
      expect(JSON.stringify(fetched, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value))).not.toContain(created.clientSecret);

      await withDatabase(server, async (query) => {
        const secrets = await query("SELECT hash FROM client_secrets WHERE client_id = $1", [created.client!.clientId]);
        expect(secrets).toHaveLength(1);
        expect(secrets[0]!.hash).not.toContain(created.clientSecret);
        const audit = await query("SELECT actor, action, outcome FROM audit_events WHERE target_client_id = $1", [created.client!.clientId]);
        expect(audit).toEqual([{ actor: ADMIN_CLIENT.clientId, action: "client.create", outcome: "success" }]);
      });
    });

    it("refuses calls without a bearer token (UNAUTHENTICATED) and without tessera:admin (PERMISSION_DENIED)", async () => {
      const noToken = await adminClient().createClient({ name: "x" }).catch((e: unknown) => e);
      expect((noToken as ConnectError).code).toBe(Code.Unauthenticated);

      const tokenResponse = await requestToken(server, { grant_type: "client_credentials", client_id: client.clientId, client_secret: client.clientSecret });
      const { access_token } = (await tokenResponse.json()) as TokenBody;
      const wrongScope = await adminClient().createClient({ name: "x" }, { headers: { authorization: `Bearer ${access_token}` } }).catch((e: unknown) => e);
      expect([Code.PermissionDenied, Code.Unauthenticated]).toContain((wrongScope as ConnectError).code);
    });

    it("answers an invalid request with INVALID_ARGUMENT naming the field, over grpc-js", async () => {
      const admin = grpcClient(`127.0.0.1:${server.port}`, "ClientAdminService");
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${adminToken}`);
      try {
        await expect(unary(admin, "createClient", { name: "" }, metadata)).rejects.toMatchObject({
          code: grpc.status.INVALID_ARGUMENT,
          details: expect.stringContaining("name"),
        });
      } finally {
        admin.close();
      }
    });
  });
});

/** Reads the server's database directly (PostgreSQL only; PGlite belongs to the server process). */
async function withDatabase(server: TestServer, fn: (query: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<void>) {
  if (!server.databaseUrl) return;
  const url = new URL(server.databaseUrl);
  const schema = url.searchParams.get("schema")!;
  url.searchParams.delete("schema");
  const db = new pg.Client({ connectionString: url.toString(), options: `-c search_path=${schema}` });
  await db.connect();
  try {
    await fn(async (sql, params) => (await db.query(sql, params)).rows);
  } finally {
    await db.end();
  }
}
