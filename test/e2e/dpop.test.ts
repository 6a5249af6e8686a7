/**
 * DPoP (RFC 9449) end to end, on the embedded database and on PostgreSQL: a client nobody here
 * wrote (oauth4webapi) gets a DPoP-bound token and calls a resource server guarded by
 * tessera/verifier's requireToken; every kind of bad proof is refused at the token endpoint, at
 * the resource server and through gRPC AuthenticateToken; refresh tokens stay bound to the key;
 * server nonces are asked for and honoured when required.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier, requireToken, tokenOf, type Verifier } from "tessera/verifier";
import { createTokenSource } from "tessera/client";
import { IntrospectionService } from "../../src/gen/tessera/v1/introspection_service_pb.js";
import { TokenService, GrantType } from "../../src/gen/tessera/v1/token_service_pb.js";
import { OAuthErrorSchema } from "../../src/gen/tessera/v1/oauth_error_pb.js";
import { accessTokenHash } from "../../src/keys/dpop-proof.js";
import { registerClient, type RegisteredClient } from "../support/clients.js";
import { ADMIN_CLIENT, STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";

const API = "dpop-api";

interface ProofKey {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
  readonly jkt: string;
}

async function proofKey(alg = "ES256"): Promise<ProofKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  return { ...pair, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** A DPoP proof, right by default; each test spoils one thing. */
async function proof(
  key: ProofKey,
  claims: { htm: string; htu: string; ath?: string; iat?: number; jti?: string; nonce?: string },
  header: { jwk?: JWK; typ?: string } = {},
): Promise<string> {
  return new SignJWT({ jti: claims.jti ?? randomUUID(), htm: claims.htm, htu: claims.htu, ...(claims.ath ? { ath: claims.ath } : {}), ...(claims.nonce ? { nonce: claims.nonce } : {}) })
    .setProtectedHeader({ alg: "ES256", typ: header.typ ?? "dpop+jwt", jwk: header.jwk ?? key.jwk })
    .setIssuedAt(claims.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey);
}

/** An unsigned proof (`alg: none`), as an attacker would send it. */
function unsignedProof(key: ProofKey, claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none", typ: "dpop+jwt", jwk: key.jwk })}.${encode({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })}.`;
}

async function tokenRequest(server: TestServer, client: RegisteredClient, dpop: string | undefined, body: Record<string, string> = { grant_type: "client_credentials" }) {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: basicAuthorization(client.clientId, client.clientSecret),
      ...(dpop ? { dpop } : {}),
    },
    body: new URLSearchParams(body),
  });
  return { status: response.status, nonce: response.headers.get("dpop-nonce"), body: (await response.json()) as Record<string, string> };
}

/** A resource server guarded by requireToken, echoing the verified client. */
async function resourceServer(verifier: Verifier): Promise<{ url: string; server: http.Server }> {
  let origin = "";
  const guard = (request: http.IncomingMessage, response: http.ServerResponse) =>
    requireToken(verifier, { origin })(request, response, () => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ client: tokenOf(request).clientId }));
    });
  const server = http.createServer(guard);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `${origin}/payments`, server };
}

async function callResource(url: string, token: string, dpop: string | undefined, scheme = "DPoP") {
  const response = await fetch(url, { headers: { authorization: `${scheme} ${token}`, ...(dpop ? { dpop } : {}) } });
  await response.arrayBuffer();
  return { status: response.status, challenge: response.headers.get("www-authenticate") ?? "", nonce: response.headers.get("dpop-nonce") };
}

describe.each(STORAGE_KINDS)("DPoP (RFC 9449) on %s storage", (storage) => {
  let server: TestServer;
  let nonceServer: TestServer;
  let client: RegisteredClient;
  let required: RegisteredClient;
  let refreshing: RegisteredClient;
  let verifier: Verifier;
  let resource: { url: string; server: http.Server };
  let tokenUrl: string;

  beforeAll(async () => {
    server = await startTestServer({ storage });
    nonceServer = await startTestServer({ storage, env: { TESSERA_DPOP_NONCE: "true" } });
    tokenUrl = `${server.url}/oauth/token`;
    client = await registerClient(server, { name: "dpop", scopes: ["pay:read"], audiences: [API] });
    required = await registerClient(server, { name: "dpop-required", scopes: ["pay:read"], audiences: [API], dpopBoundAccessTokens: true });
    refreshing = await registerClient(server, { name: "dpop-refresh", scopes: ["pay:read"], audiences: [API], refreshTokensEnabled: true });
    verifier = createVerifier({ issuer: server.config.issuer, audience: API });
    resource = await resourceServer(verifier);
  });
  afterAll(async () => {
    verifier?.close();
    await new Promise((resolve) => resource?.server.close(resolve));
    await Promise.all([server?.destroy(), nonceServer?.destroy()]);
  });

  it("lets oauth4webapi get a DPoP-bound token and call a resource server guarded by requireToken", async () => {
    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    expect(as.dpop_signing_alg_values_supported).toEqual(["ES256", "EdDSA", "PS256", "RS256"]);
    const oauthClient: oauth.Client = { client_id: client.clientId };
    const DPoP = oauth.DPoP(oauthClient, await oauth.generateKeyPair("ES256"));
    const response = await oauth.clientCredentialsGrantRequest(as, oauthClient, oauth.ClientSecretBasic(client.clientSecret), { scope: "pay:read" }, {
      DPoP,
      [oauth.allowInsecureRequests]: true,
    });
    const tokens = await oauth.processClientCredentialsResponse(as, oauthClient, response);
    expect(tokens.token_type).toBe("dpop");

    const introspected = await fetch(`${server.url}/oauth/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) },
      body: new URLSearchParams({ token: tokens.access_token }),
    }).then((r) => r.json() as Promise<Record<string, unknown>>);
    expect(introspected).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt: await DPoP.calculateThumbprint() } });

    const called = await oauth.protectedResourceRequest(tokens.access_token, "GET", new URL(resource.url), undefined, undefined, { DPoP, [oauth.allowInsecureRequests]: true });
    expect(called.status).toBe(200);
    expect(await called.json()).toEqual({ client: client.clientId });
  });

  it("refuses bad proofs at the token endpoint with invalid_dpop_proof", async () => {
    const key = await proofKey();
    const other = await proofKey();
    const good = { htm: "POST", htu: tokenUrl };
    const replayed = await proof(key, good);
    expect((await tokenRequest(server, client, replayed)).status).toBe(200);
    const withPrivate = await exportJWK(key.privateKey);
    const cases: Record<string, string> = {
      replayed,
      "wrong htu": await proof(key, { htm: "POST", htu: `${server.url}/oauth/other` }),
      "wrong htm": await proof(key, { htm: "GET", htu: tokenUrl }),
      "stale iat": await proof(key, { ...good, iat: Math.floor(Date.now() / 1000) - 600 }),
      "signed by another key": await proof(other, good, { jwk: key.jwk }),
      "alg none": unsignedProof(key, good),
      "private key in jwk": await proof(key, good, { jwk: withPrivate }),
      "wrong typ": await proof(key, good, { typ: "jwt" }),
      garbage: "not-a-jwt",
    };
    for (const [name, dpop] of Object.entries(cases)) {
      const answer = await tokenRequest(server, client, dpop);
      expect({ name, status: answer.status, error: answer.body.error }).toEqual({ name, status: 400, error: "invalid_dpop_proof" });
    }
    // The htu compares after normalisation: scheme and host case, the default port.
    const url = new URL(tokenUrl);
    const normalised = `HTTP://${url.hostname.toUpperCase()}:${url.port}${url.pathname}`;
    expect((await tokenRequest(server, client, await proof(key, { htm: "POST", htu: normalised }))).status).toBe(200);
  });

  it("requires a proof from a client registered with dpop_bound_access_tokens", async () => {
    const refused = await tokenRequest(server, required, undefined);
    expect(refused).toMatchObject({ status: 400, body: { error: "invalid_dpop_proof" } });
    const key = await proofKey();
    const granted = await tokenRequest(server, required, await proof(key, { htm: "POST", htu: tokenUrl }));
    expect(granted).toMatchObject({ status: 200, body: { token_type: "DPoP" } });
  });

  it("refuses at the resource server every proof RFC 9449 §7 rules out, and a bound token sent as Bearer", async () => {
    const key = await proofKey();
    const other = await proofKey();
    const token = (await tokenRequest(server, client, await proof(key, { htm: "POST", htu: tokenUrl }))).body.access_token!;
    const ath = accessTokenHash(token);
    const good = { htm: "GET", htu: resource.url, ath };
    const replayed = await proof(key, good);
    expect((await callResource(resource.url, token, replayed)).status).toBe(200);
    const cases: Record<string, string | undefined> = {
      replayed,
      "wrong htu": await proof(key, { ...good, htu: `${resource.url}/other` }),
      "wrong htm": await proof(key, { ...good, htm: "POST" }),
      "stale iat": await proof(key, { ...good, iat: Math.floor(Date.now() / 1000) - 600 }),
      "missing ath": await proof(key, { htm: "GET", htu: resource.url }),
      "wrong ath": await proof(key, { ...good, ath: accessTokenHash(`${token}x`) }),
      "another key": await proof(other, good),
      "alg none": unsignedProof(key, good),
      "no proof": undefined,
    };
    for (const [name, dpop] of Object.entries(cases)) {
      const answer = await callResource(resource.url, token, dpop);
      expect({ name, status: answer.status }).toEqual({ name, status: 401 });
      expect(answer.challenge).toMatch(/^DPoP .*error="invalid_dpop_proof".*algs="ES256 EdDSA PS256 RS256"/);
    }
    const asBearer = await callResource(resource.url, token, undefined, "Bearer");
    expect(asBearer.status).toBe(401);
    expect(asBearer.challenge).toMatch(/^DPoP .*error="invalid_token"/);
  });

  it("checks the binding through gRPC AuthenticateToken, and issues DPoP tokens over gRPC from the dpop metadata", async () => {
    const transport = createGrpcTransport({ baseUrl: server.url });
    const key = await proofKey();
    const rpcUrl = `${server.config.issuer}/${TokenService.typeName}/IssueToken`;
    const issued = await createClient(TokenService, transport).issueToken(
      { grantType: GrantType.CLIENT_CREDENTIALS, clientId: client.clientId, credential: { case: "clientSecret", value: client.clientSecret } },
      { headers: { dpop: await proof(key, { htm: "POST", htu: rpcUrl }) } },
    );
    expect(issued.tokenType).toBe("DPoP");
    const token = issued.accessToken;
    const introspection = createClient(IntrospectionService, transport);
    const headers = { authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) };
    const at = (dpop: string) => ({ token, dpopProof: dpop, httpMethod: "GET", httpUrl: resource.url });
    const good = { htm: "GET", htu: resource.url, ath: accessTokenHash(token) };

    const replayed = await proof(key, good);
    const answer = await introspection.authenticateToken(at(replayed), { headers });
    expect(answer.cnf).toEqual({ jkt: key.jkt });

    const oauthError = async (request: ReturnType<typeof at> | { token: string }) => {
      const error = await introspection.authenticateToken(request, { headers }).then(() => undefined, (caught: unknown) => ConnectError.from(caught));
      return { code: error?.code, error: error?.findDetails(OAuthErrorSchema)[0]?.error };
    };
    const refused = { code: Code.Unauthenticated, error: "invalid_dpop_proof" };
    expect(await oauthError(at(replayed))).toEqual(refused);
    expect(await oauthError(at(await proof(key, { ...good, htu: `${resource.url}/other` })))).toEqual(refused);
    expect(await oauthError(at(await proof(key, { ...good, htm: "POST" })))).toEqual(refused);
    expect(await oauthError(at(await proof(key, { ...good, iat: Math.floor(Date.now() / 1000) - 600 })))).toEqual(refused);
    expect(await oauthError(at(await proof(key, { htm: "GET", htu: resource.url })))).toEqual(refused);
    expect(await oauthError(at(await proof(await proofKey(), good)))).toEqual(refused);
    expect(await oauthError(at(unsignedProof(key, good)))).toEqual(refused);
    // Without its proof, a DPoP-bound token is not a bearer token.
    expect(await oauthError({ token })).toEqual({ code: Code.Unauthenticated, error: "invalid_token" });
  });

  it("binds a refresh token chain to the DPoP key it started with", async () => {
    const key = await proofKey();
    const started = await tokenRequest(server, refreshing, await proof(key, { htm: "POST", htu: tokenUrl }));
    expect(started).toMatchObject({ status: 200, body: { token_type: "DPoP" } });
    const refresh = { grant_type: "refresh_token", refresh_token: started.body.refresh_token! };
    expect(await tokenRequest(server, refreshing, undefined, refresh)).toMatchObject({ status: 400, body: { error: "invalid_dpop_proof" } });
    const other = await proofKey();
    expect(await tokenRequest(server, refreshing, await proof(other, { htm: "POST", htu: tokenUrl }), refresh)).toMatchObject({ status: 400, body: { error: "invalid_dpop_proof" } });
    const redeemed = await tokenRequest(server, refreshing, await proof(key, { htm: "POST", htu: tokenUrl }), refresh);
    expect(redeemed).toMatchObject({ status: 200, body: { token_type: "DPoP" } });
  });

  it("asks for a server nonce when TESSERA_DPOP_NONCE is set, and oauth4webapi retries with it", async () => {
    const nonceClient = await registerClient(nonceServer, { name: "dpop-nonce", scopes: ["pay:read"], audiences: [API] });
    const key = await proofKey();
    const url = `${nonceServer.url}/oauth/token`;
    const refused = await tokenRequest(nonceServer, nonceClient, await proof(key, { htm: "POST", htu: url }));
    expect(refused).toMatchObject({ status: 400, body: { error: "use_dpop_nonce" } });
    expect(refused.nonce).toBeTruthy();
    expect((await tokenRequest(nonceServer, nonceClient, await proof(key, { htm: "POST", htu: url, nonce: "1.forged" }))).body.error).toBe("use_dpop_nonce");
    const granted = await tokenRequest(nonceServer, nonceClient, await proof(key, { htm: "POST", htu: url, nonce: refused.nonce! }));
    expect(granted).toMatchObject({ status: 200, body: { token_type: "DPoP" } });

    const issuer = new URL(nonceServer.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    const oauthClient: oauth.Client = { client_id: nonceClient.clientId };
    const DPoP = oauth.DPoP(oauthClient, await oauth.generateKeyPair("ES256"));
    const request = () =>
      oauth.clientCredentialsGrantRequest(as, oauthClient, oauth.ClientSecretBasic(nonceClient.clientSecret), {}, { DPoP, [oauth.allowInsecureRequests]: true });
    let tokens: oauth.TokenEndpointResponse;
    try {
      tokens = await oauth.processClientCredentialsResponse(as, oauthClient, await request());
      throw new Error("expected use_dpop_nonce first");
    } catch (error) {
      expect(oauth.isDPoPNonceError(error)).toBe(true);
      tokens = await oauth.processClientCredentialsResponse(as, oauthClient, await request());
    }
    expect(tokens.token_type).toBe("dpop");
  });

  it("asks for a nonce at a resource server that requires them", async () => {
    const nonceVerifier = createVerifier({ issuer: server.config.issuer, audience: API, dpop: { requireNonce: true } });
    const guarded = await resourceServer(nonceVerifier);
    try {
      const key = await proofKey();
      const token = (await tokenRequest(server, client, await proof(key, { htm: "POST", htu: tokenUrl }))).body.access_token!;
      const good = { htm: "GET", htu: guarded.url, ath: accessTokenHash(token) };
      const refused = await callResource(guarded.url, token, await proof(key, good));
      expect(refused.status).toBe(401);
      expect(refused.challenge).toMatch(/^DPoP .*error="use_dpop_nonce"/);
      expect(refused.nonce).toBeTruthy();
      expect((await callResource(guarded.url, token, await proof(key, { ...good, nonce: refused.nonce! }))).status).toBe(200);
    } finally {
      nonceVerifier.close();
      await new Promise((resolve) => guarded.server.close(resolve));
    }
  });

  it("gets DPoP-bound tokens through tessera/client's token source over HTTP and gRPC, answering a server nonce", async () => {
    for (const [target, transport] of [[server, "http"], [nonceServer, "grpc"], [nonceServer, "http"]] as const) {
      const registered = target === server ? client : await registerClient(target, { name: `dpop-source-${transport}`, scopes: ["pay:read"], audiences: [API] });
      const key = await proofKey();
      const source = createTokenSource({ issuer: target.config.issuer, clientId: registered.clientId, clientSecret: registered.clientSecret, dpopKey: key.privateKey, transport, retry: { attempts: 1 } });
      try {
        const issued = await source.getIssuedToken();
        expect({ transport, tokenType: issued.tokenType }).toEqual({ transport, tokenType: "DPoP" });
        expect(await source.authorization()).toBe(`DPoP ${issued.accessToken}`);
        if (target === server) {
          const dpop = await source.dpopProof!({ method: "GET", url: resource.url, accessToken: issued.accessToken });
          expect((await callResource(resource.url, issued.accessToken, dpop)).status).toBe(200);
        }
      } finally {
        source.close();
      }
    }
  });

  it("asks for Tessera's nonce in AuthenticateToken when TESSERA_DPOP_NONCE is set", async () => {
    const nonceClient = await registerClient(nonceServer, { name: "dpop-nonce-rpc", scopes: ["pay:read"], audiences: [API] });
    const key = await proofKey();
    const url = `${nonceServer.url}/oauth/token`;
    const nonce = (await tokenRequest(nonceServer, nonceClient, await proof(key, { htm: "POST", htu: url }))).nonce!;
    const token = (await tokenRequest(nonceServer, nonceClient, await proof(key, { htm: "POST", htu: url, nonce }))).body.access_token!;
    const introspection = createClient(IntrospectionService, createGrpcTransport({ baseUrl: nonceServer.url }));
    const headers = { authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) };
    const good = { htm: "GET", htu: resource.url, ath: accessTokenHash(token) };
    const refused = await introspection
      .authenticateToken({ token, dpopProof: await proof(key, good), httpMethod: "GET", httpUrl: resource.url }, { headers })
      .then(() => undefined, (caught: unknown) => ConnectError.from(caught));
    expect(refused?.code).toBe(Code.Unauthenticated);
    expect(refused?.findDetails(OAuthErrorSchema)[0]?.error).toBe("use_dpop_nonce");
    const fresh = refused?.metadata.get("dpop-nonce");
    expect(fresh).toBeTruthy();
    const answer = await introspection.authenticateToken({ token, dpopProof: await proof(key, { ...good, nonce: fresh! }), httpMethod: "GET", httpUrl: resource.url }, { headers });
    expect(answer.cnf).toEqual({ jkt: key.jkt });
  });
});
