/**
 * Every malformed or refused token request gets the standard answer — RFC 6749 §5.2 JSON with
 * the exact status and headers on HTTP, the documented code with an OAuthError detail over gRPC —
 * and never a 500.
 */
import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OAuthErrorSchema } from "../../src/gen/tessera/v1/oauth_error_pb.js";
import { TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { grpc, grpcClient, unary } from "../support/grpc-clients.js";
import { basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let server: TestServer;
let client: RegisteredClient;
let keyed: RegisteredClient;
let privateKey: CryptoKey;

beforeAll(async () => {
  server = await startTestServer({ storage: "embedded" });
  client = await registerClient(server, { name: "orders", scopes: ["orders:read"], audiences: ["https://orders.example"] });
  const pair = await generateKeyPair("ES256");
  privateKey = pair.privateKey;
  keyed = await registerClient(server, {
    name: "orders-keyed",
    scopes: ["orders:read"],
    jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1" }] },
  });
});
afterAll(async () => server?.destroy());

function assertion(claims: Record<string, unknown> = {}, options: { key?: CryptoKey; alg?: string; expiresIn?: number | string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: options.alg ?? "ES256", kid: "k1" })
    .setIssuer(keyed.clientId)
    .setSubject(keyed.clientId)
    .setAudience((claims.aud as string | undefined) ?? server.config.issuer)
    .setIssuedAt(now)
    .setExpirationTime(options.expiresIn ?? now + 60)
    .sign(options.key ?? privateKey);
}

interface Case {
  readonly name: string;
  readonly body: () => Promise<string> | string;
  readonly headers?: () => Record<string, string>;
  readonly contentType?: string;
  readonly status: number;
  readonly error: string;
  readonly basicChallenge?: boolean;
}

const form = (values: Record<string, string>) => new URLSearchParams(values).toString();
const basic = () => ({ authorization: basicAuthorization(client.clientId, client.clientSecret) });

const CASES: Case[] = [
  { name: "a missing grant_type", body: () => "", headers: basic, status: 400, error: "invalid_request" },
  { name: "an unknown grant_type", body: () => form({ grant_type: "password" }), headers: basic, status: 400, error: "unsupported_grant_type" },
  { name: "a non-Basic Authorization scheme", body: () => form({ grant_type: "client_credentials" }), headers: () => ({ authorization: "Bearer abc" }), status: 400, error: "invalid_request" },
  { name: "Basic credentials that are not base64", body: () => form({ grant_type: "client_credentials" }), headers: () => ({ authorization: "Basic %%%not-base64%%%" }), status: 400, error: "invalid_request" },
  { name: "Basic credentials without a colon", body: () => form({ grant_type: "client_credentials" }), headers: () => ({ authorization: `Basic ${Buffer.from("just-an-id").toString("base64")}` }), status: 400, error: "invalid_request" },
  { name: "a client id containing a colon (form-encoded in Basic)", body: () => form({ grant_type: "client_credentials" }), headers: () => ({ authorization: basicAuthorization(`${client.clientId}:x`, client.clientSecret) }), status: 401, error: "invalid_client", basicChallenge: true },
  { name: "a wrong secret", body: () => form({ grant_type: "client_credentials" }), headers: () => ({ authorization: basicAuthorization(client.clientId, `${client.clientSecret}x`) }), status: 401, error: "invalid_client", basicChallenge: true },
  { name: "an unknown client", body: () => form({ grant_type: "client_credentials", client_id: "nobody-here", client_secret: "whatever" }), status: 401, error: "invalid_client" },
  { name: "no client authentication", body: () => form({ grant_type: "client_credentials" }), status: 401, error: "invalid_client" },
  { name: "two authentication methods at once", body: () => form({ grant_type: "client_credentials", client_secret: client.clientSecret }), headers: basic, status: 400, error: "invalid_request" },
  { name: "a scope outside the allowance", body: () => form({ grant_type: "client_credentials", scope: "orders:read orders:delete" }), headers: basic, status: 400, error: "invalid_scope" },
  { name: "an audience outside the allowance", body: () => form({ grant_type: "client_credentials", resource: "https://elsewhere.example" }), headers: basic, status: 400, error: "invalid_target" },
  { name: "a repeated parameter", body: () => "grant_type=client_credentials&scope=orders:read&scope=orders:read", headers: basic, status: 400, error: "invalid_request" },
  { name: "malformed percent-encoding", body: () => "grant_type=client%ZZcredentials", headers: basic, status: 400, error: "invalid_request" },
  { name: "percent-encoded invalid UTF-8", body: () => "grant_type=%C3%28", headers: basic, status: 400, error: "invalid_request" },
  { name: "a percent-encoded NUL byte", body: () => "grant_type=client_credentials%00", headers: basic, status: 400, error: "invalid_request" },
  { name: "an oversized body", body: () => `grant_type=client_credentials&pad=${"a".repeat(20_000)}`, headers: basic, status: 413, error: "invalid_request" },
  { name: "a wrong content type", body: () => form({ grant_type: "client_credentials" }), headers: basic, contentType: "text/plain", status: 400, error: "invalid_request" },
  { name: "a JSON body that is not an object", body: () => "[1,2]", headers: basic, contentType: "application/json", status: 400, error: "invalid_request" },
  { name: "a JSON body with a repeated name", body: () => '{"grant_type":"client_credentials","scope":"orders:read","scope":"orders:write"}', headers: basic, contentType: "application/json", status: 400, error: "invalid_request" },
  { name: "a JSON body repeating a name under another escape", body: () => '{"grant_type":"client_credentials","scop\\u0065":"orders:read","scope":"orders:delete"}', headers: basic, contentType: "application/json", status: 400, error: "invalid_request" },
  {
    name: "a JSON body whose last client_secret is right and first is wrong",
    body: () => `{"grant_type":"client_credentials","client_id":${JSON.stringify(client.clientId)},"client_secret":"wrong","client_secret":${JSON.stringify(client.clientSecret)}}`,
    contentType: "application/json",
    status: 400,
    error: "invalid_request",
  },
  { name: "a JSON body with a non-string value", body: () => JSON.stringify({ grant_type: "client_credentials", scope: { deep: true } }), headers: basic, contentType: "application/json", status: 400, error: "invalid_request" },
  { name: "a client assertion of the wrong type", body: async () => form({ grant_type: "client_credentials", client_assertion_type: "urn:other", client_assertion: await assertion() }), status: 400, error: "invalid_request" },
  { name: "an expired client assertion", body: async () => form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion({}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }) }), status: 401, error: "invalid_client" },
  { name: "a client assertion for another audience", body: async () => form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion({ aud: "https://not-tessera.example" }) }), status: 401, error: "invalid_client" },
  { name: "a client assertion for the token endpoint URL rather than the issuer (rfc7523bis)", body: async () => form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion({ aud: `${server.config.issuer}/oauth/token` }) }), status: 401, error: "invalid_client" },
  { name: "a JWT bearer grant without an assertion", body: () => form({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer" }), status: 400, error: "invalid_request" },
  { name: "a JWT bearer grant whose assertion no trusted issuer signed", body: async () => form({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: await assertion() }), status: 400, error: "invalid_grant" },
  { name: "a token exchange of a JWT no trusted issuer signed", body: async () => form({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: await assertion(), subject_token_type: "urn:ietf:params:oauth:token-type:jwt" }), status: 400, error: "invalid_grant" },
  { name: "a SPIFFE client assertion no trusted trust domain signed", body: async () => form({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe", client_assertion: await assertion() }), status: 401, error: "invalid_client" },
  { name: "a client assertion living too long", body: async () => form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion({}, { expiresIn: "2h" }) }), status: 401, error: "invalid_client" },
  { name: "a client assertion signed by another key", body: async () => form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion({}, { key: (await generateKeyPair("ES256")).privateKey }) }), status: 401, error: "invalid_client" },
  {
    name: "an unsigned client assertion (alg none)",
    body: () => {
      const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const now = Math.floor(Date.now() / 1000);
      const unsigned = `${encode({ alg: "none" })}.${encode({ iss: keyed.clientId, sub: keyed.clientId, aud: server.config.issuer, exp: now + 60, jti: randomUUID() })}.`;
      return form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: unsigned });
    },
    status: 401,
    error: "invalid_client",
  },
  { name: "a client assertion that is not a JWT", body: () => form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: "not-a-jwt" }), status: 400, error: "invalid_request" },
];

describe("POST /oauth/token, refused requests", () => {
  it.each(CASES)("answers $name with $status $error", async (testCase) => {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": testCase.contentType ?? "application/x-www-form-urlencoded", ...(testCase.headers?.() ?? {}) },
      body: await testCase.body(),
    });
    expect(response.status).toBe(testCase.status);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ error: testCase.error, error_description: expect.any(String) });
    if (testCase.status === 401) expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm="tessera"/);
  });

  it("refuses a replayed client assertion", async () => {
    const reused = await assertion();
    const request = () =>
      fetch(`${server.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: reused }),
      });
    expect((await request()).status).toBe(200);
    const replay = await request();
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: "invalid_client" });
  });

  it("accepts a JSON body as SaaS M2M APIs do", async () => {
    const response = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: client.clientId, client_secret: client.clientSecret, audience: "https://orders.example" }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ token_type: "Bearer", scope: "orders:read" });
  });

  it("answers unknown paths with 404 and wrong methods with 405", async () => {
    expect((await fetch(`${server.url}/oauth/nothing`)).status).toBe(404);
    const get = await fetch(`${server.url}/oauth/token`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });
});

describe("tessera.v1.TokenService/IssueToken, refused requests", () => {
  const GRPC_CASES = [
    { name: "a wrong secret", request: () => ({ clientId: client.clientId, clientSecret: "nope" }), code: grpc.status.UNAUTHENTICATED, error: "invalid_client" },
    { name: "an unknown client", request: () => ({ clientId: "nobody-here", clientSecret: "nope" }), code: grpc.status.UNAUTHENTICATED, error: "invalid_client" },
    { name: "no credentials", request: () => ({ clientId: client.clientId }), code: grpc.status.UNAUTHENTICATED, error: "invalid_client" },
    { name: "a scope outside the allowance", request: () => ({ clientId: client.clientId, clientSecret: client.clientSecret, scopes: ["orders:delete"] }), code: grpc.status.PERMISSION_DENIED, error: "invalid_scope" },
    { name: "an audience outside the allowance", request: () => ({ clientId: client.clientId, clientSecret: client.clientSecret, audiences: ["https://elsewhere.example"] }), code: grpc.status.PERMISSION_DENIED, error: "invalid_target" },
    { name: "an unknown grant type", request: () => ({ clientId: client.clientId, clientSecret: client.clientSecret, grantType: 99 }), code: grpc.status.INVALID_ARGUMENT, error: "unsupported_grant_type" },
  ];

  it.each(GRPC_CASES)("answers $name with gRPC code $code over grpc-js", async (testCase) => {
    const tokens = grpcClient(`127.0.0.1:${server.port}`, "TokenService");
    try {
      await expect(unary(tokens, "issueToken", testCase.request())).rejects.toMatchObject({ code: testCase.code });
    } finally {
      tokens.close();
    }
  });

  it.each(GRPC_CASES)("carries $error as the OAuthError detail for $name", async (testCase) => {
    const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: server.url }));
    const { clientSecret, ...rest } = testCase.request() as { clientSecret?: string } & Record<string, unknown>;
    const error = await tokens
      .issueToken({ ...rest, ...(clientSecret ? { credential: { case: "clientSecret", value: clientSecret } } : {}) } as never)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(testCase.code as number as Code);
    expect((error as ConnectError).findDetails(OAuthErrorSchema)).toEqual([expect.objectContaining({ error: testCase.error })]);
  });
});
